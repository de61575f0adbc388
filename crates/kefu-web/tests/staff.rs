//! Staff records through the real server, on SQLite and PostgreSQL: who may read and write
//! them (the role matrix), and the contract's staff policy keeping a flagged agent out of
//! chat routing until the record is put right.

#[path = "../../kefu-store/tests/common/mod.rs"]
mod common;
mod support;

use std::net::SocketAddr;
use std::time::Duration;

use common::on_each_backend;
use futures_util::{SinkExt, StreamExt};
use kefu_core::access::Role;
use kefu_core::staff_policy::{Assessment, Certificate, Nda, Training};
use kefu_store::Store;
use kefu_store::accounts::NewAccount;
use serde_json::{Value, json};
use support::{EXAMPLE_NUMBER, request};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

const CERT: &str = "呼叫中心服务员(四级)";

async fn account(store: &Store, username: &str, role: Role) -> (kefu_store::UserId, String) {
    let contract_id = if role == Role::ClientViewer {
        store.contract_id(EXAMPLE_NUMBER).await.expect("contract")
    } else {
        None
    };
    let a = store
        .create_account(
            "tester",
            &NewAccount {
                username,
                display_name: username,
                role,
                contract_id,
                password: "a long enough password",
                must_change_password: false,
            },
        )
        .await
        .expect("account");
    let token = store.create_api_token(a.id, "test").await.expect("token");
    (a.id, format!("Bearer {token}"))
}

fn today() -> jiff::civil::Date {
    let tz = jiff::tz::TimeZone::get("Asia/Shanghai").expect("tz");
    tz.to_datetime(jiff::Timestamp::now()).date()
}

fn days(n: i64) -> jiff::civil::Date {
    today().checked_add(jiff::Span::new().days(n)).expect("day")
}

/// Everything the example contract asks of a chat agent, but the certificate: NDA, a recent
/// training, a passed assessment.
async fn compliant_but_certificate(store: &Store, user: kefu_store::UserId) {
    store
        .add_nda(
            user,
            &Nda {
                signed_on: days(-100),
                document_sha256: None,
            },
        )
        .await
        .expect("nda");
    store
        .add_training(
            user,
            &Training {
                course: "宽带故障".to_owned(),
                held_on: days(-10),
                minutes: 90,
                trainer: None,
                result: None,
            },
        )
        .await
        .expect("training");
    store
        .add_assessment(
            user,
            &Assessment {
                held_on: days(-20),
                title: String::new(),
                score: 90,
                pass_score: 80,
            },
        )
        .await
        .expect("assessment");
}

async fn call(
    addr: SocketAddr,
    method: &str,
    path: &str,
    auth: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let text = body.map(|b| b.to_string());
    let r = request(
        addr,
        method,
        path,
        &[("Authorization", auth)],
        text.as_deref().map(|t| ("application/json", t)),
    )
    .await;
    let v = serde_json::from_str(&r.body).unwrap_or(Value::Null);
    (r.status, v)
}

#[tokio::test]
async fn who_may_read_and_write_staff_records() {
    on_each_backend(async |store: &Store| {
        support::example_contract(store).await;
        let (_, admin) = account(store, "boss", Role::Admin).await;
        let (_, sup) = account(store, "zhao.sup", Role::Supervisor).await;
        let (_, qa) = account(store, "qian.qa", Role::QaReviewer).await;
        let (_, li) = account(store, "li.agent", Role::Agent).await;
        let (_, _wang) = account(store, "wang.agent", Role::Agent).await;
        let (_, client) = account(store, "jia.client", Role::ClientViewer).await;
        support::with_server(store, async |addr: SocketAddr| {
            let training =
                |course: &str| json!({"course": course, "held_on": "2026-03-05", "minutes": 120});
            // Writes: administrators and supervisors; the same record twice is 200, not a copy.
            let path = "/api/v1/staff/li.agent/trainings";
            assert_eq!(
                call(addr, "POST", path, &admin, Some(training("a")))
                    .await
                    .0,
                201
            );
            assert_eq!(
                call(addr, "POST", path, &sup, Some(training("b"))).await.0,
                201
            );
            assert_eq!(
                call(addr, "POST", path, &sup, Some(training("b"))).await.0,
                200
            );
            for who in [&qa, &li, &client] {
                assert_eq!(
                    call(addr, "POST", path, who, Some(training("c"))).await.0,
                    403
                );
            }
            let nda = json!({"signed_on": "2026-01-01", "document_sha256": "not a hash"});
            let (status, body) = call(
                addr,
                "POST",
                "/api/v1/staff/li.agent/nda",
                &admin,
                Some(nda),
            )
            .await;
            assert_eq!(status, 422, "{body}");
            assert!(
                body["detail"]
                    .as_str()
                    .is_some_and(|d| d.contains("document_sha256"))
            );
            let (status, _) = call(
                addr,
                "POST",
                "/api/v1/staff/nobody/nda",
                &admin,
                Some(json!({"signed_on": "2026-01-01"})),
            )
            .await;
            assert_eq!(status, 404);
            let (status, body) = call(
                addr,
                "POST",
                "/api/v1/staff/li.agent/assessments",
                &sup,
                Some(json!({"held_on": "2026-03-26", "score": 70})),
            )
            .await;
            assert_eq!(status, 201, "{body}");

            // Reads: QA and supervisors everyone; an agent themselves only; client viewers nothing.
            let (s, list) = call(addr, "GET", "/api/v1/staff?channel=chat", &qa, None).await;
            assert_eq!(s, 200);
            let names: Vec<&str> = list["staff"]
                .as_array()
                .expect("staff")
                .iter()
                .filter_map(|p| p["username"].as_str())
                .collect();
            assert!(
                names.contains(&"wang.agent")
                    && names.contains(&"li.agent")
                    && !names.contains(&"jia.client"),
                "{names:?}"
            );
            let (s, mine) = call(addr, "GET", "/api/v1/staff", &li, None).await;
            assert_eq!(s, 200);
            assert_eq!(mine["staff"].as_array().map(Vec::len), Some(1));
            let me = &mine["staff"][0];
            let chat = me["channels"]
                .as_array()
                .expect("channels")
                .iter()
                .find(|c| c["channel"] == "chat")
                .expect("chat");
            let kinds: Vec<&str> = chat["flags"]
                .as_array()
                .expect("flags")
                .iter()
                .filter_map(|f| f["kind"].as_str())
                .collect();
            assert_eq!(
                kinds,
                vec![
                    "missing_certificate",
                    "no_nda",
                    "failed_assessment",
                    "assessment_overdue",
                    "training_overdue"
                ]
            );
            assert_eq!(
                call(addr, "GET", "/api/v1/staff/li.agent/trainings", &li, None)
                    .await
                    .0,
                200
            );
            assert_eq!(
                call(addr, "GET", "/api/v1/staff/wang.agent", &li, None)
                    .await
                    .0,
                404
            );
            assert_eq!(
                call(addr, "GET", "/api/v1/staff/li.agent", &qa, None)
                    .await
                    .0,
                200
            );
            for path in [
                "/api/v1/staff",
                "/api/v1/staff/li.agent",
                "/api/v1/staff/li.agent/certificates",
                "/console/staff",
            ] {
                assert_eq!(
                    call(addr, "GET", path, &client, None).await.0,
                    403,
                    "{path}"
                );
            }
            assert_eq!(
                call(addr, "GET", "/api/v1/staff", "Bearer nope", None)
                    .await
                    .0,
                401
            );

            // The console pages, in both languages.
            let zh = request(
                addr,
                "GET",
                "/console/staff?lang=zh",
                &[("Authorization", &sup)],
                None,
            )
            .await;
            assert_eq!(zh.status, 200);
            assert!(
                zh.body.contains("客服人员档案") && zh.body.contains("未签署保密协议"),
                "{}",
                zh.body
            );
            let en = request(
                addr,
                "GET",
                "/console/staff/li.agent?lang=en",
                &[("Authorization", &sup)],
                None,
            )
            .await;
            assert_eq!(en.status, 200);
            assert!(
                en.body.contains("Trainings (attachment 6)") && en.body.contains("failed"),
                "{}",
                en.body
            );
        })
        .await;
    })
    .await;
}

async fn connect(addr: SocketAddr, path: &str, bearer: Option<&str>) -> Ws {
    let mut req = format!("ws://{addr}{path}")
        .into_client_request()
        .expect("request");
    if let Some(t) = bearer {
        req.headers_mut()
            .insert("Authorization", t.parse().expect("header"));
    }
    tokio_tungstenite::connect_async(req)
        .await
        .expect("websocket")
        .0
}

async fn send(ws: &mut Ws, v: Value) {
    ws.send(Message::Text(v.to_string().into()))
        .await
        .expect("send");
}

/// The next frame of `kind` within `wait` (others skipped); `None` when none came.
async fn next_within(ws: &mut Ws, kind: &str, wait: Duration) -> Option<Value> {
    tokio::time::timeout(wait, async {
        while let Some(Ok(m)) = ws.next().await {
            if let Message::Text(t) = m {
                let v: Value = serde_json::from_str(&t).expect("json frame");
                if v["type"] == kind {
                    return Some(v);
                }
            }
        }
        None
    })
    .await
    .ok()
    .flatten()
}

async fn next_of(ws: &mut Ws, kind: &str) -> Value {
    next_within(ws, kind, Duration::from_secs(10))
        .await
        .unwrap_or_else(|| panic!("no `{kind}` frame"))
}

#[tokio::test]
async fn an_agent_flagged_by_the_staff_policy_is_not_routed_chat_work() {
    on_each_backend(async |store: &Store| {
        // Chat open around the clock, so the story does not depend on the hour.
        support::example_contract_edited(store, |t| {
            t.replace("windows = [\"08:00-22:00\"]", "windows = [\"00:00-24:00\"]")
        })
        .await;
        let (_, admin) = account(store, "boss", Role::Admin).await;
        let (li_id, li) = account(store, "li.agent", Role::Agent).await;
        compliant_but_certificate(store, li_id).await;
        store
            .add_certificate(
                li_id,
                &Certificate { name: CERT.to_owned(), number: "HZ-OLD".to_owned(), issued_on: Some(days(-1100)), expires_on: Some(days(-1)) },
                None,
            )
            .await
            .expect("certificate");
        support::with_server(store, async |addr: SocketAddr| {
            let mut customer = connect(addr, "/chat/ws", None).await;
            send(&mut customer, json!({"type": "start", "contract": EXAMPLE_NUMBER})).await;
            let conv = next_of(&mut customer, "welcome").await["conversation"].as_str().expect("id").to_owned();
            send(&mut customer, json!({"type": "send", "id": "m1", "text": "宽带断了"})).await;
            next_of(&mut customer, "ack").await;

            // On duty (presence is not refused) but flagged: told why, and given nothing.
            let (s, _) = call(addr, "PUT", "/api/v1/presence/chat", &li, Some(json!({"on_duty": true}))).await;
            assert_eq!(s, 200);
            let mut agent = connect(addr, "/api/v1/chat/ws", Some(&li)).await;
            let err = next_of(&mut agent, "error").await;
            let detail = err["detail"].as_str().unwrap_or_default();
            assert!(detail.contains("HZ-OLD") && detail.contains("expired"), "{detail}");
            assert!(next_within(&mut agent, "assigned", Duration::from_millis(800)).await.is_none());
            assert!(
                next_within(&mut customer, "assigned", Duration::from_millis(300)).await.is_none(),
                "the waiting customer was not given to the flagged agent"
            );

            // A valid certificate filed: the agent is routed the waiting conversation.
            let cert = json!({"name": CERT, "number": "HZ-NEW", "issued_on": days(-5), "expires_on": days(1000)});
            let (s, body) = call(addr, "POST", "/api/v1/staff/li.agent/certificates", &admin, Some(cert)).await;
            assert_eq!(s, 201, "{body}");
            let mut agent = connect(addr, "/api/v1/chat/ws", Some(&li)).await;
            let assigned = next_of(&mut agent, "assigned").await;
            assert_eq!(assigned["conversation"], conv.as_str());
            next_of(&mut customer, "assigned").await;
        })
        .await;
    })
    .await;
}
