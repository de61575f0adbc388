//! The console's follow-up of messages left outside service hours, on SQLite and PostgreSQL:
//! who may list them and mark them followed up, masked by default, unmasked only with a
//! reason that lands in the audit log; and a person's language following them to a new
//! browser.

#[path = "../../kefu-store/tests/common/mod.rs"]
mod common;
mod support;

use std::net::SocketAddr;

use common::on_each_backend;
use kefu_core::access::Role;
use kefu_store::Store;
use kefu_store::accounts::NewAccount;
use kefu_store::offline::NewOfflineMessage;
use support::{EXAMPLE_NUMBER, form, get, request, sign_in, with_server};

const PASSWORD: &str = "a long enough password";

/// The example contract, one account per role (a client viewer of that contract), a token for
/// each, and one message left outside hours; returns the tokens and the message id.
async fn setup(store: &Store) -> (Vec<(Role, String)>, String) {
    support::example_contract(store).await;
    let cid = store
        .contract_id(EXAMPLE_NUMBER)
        .await
        .expect("db")
        .expect("contract");
    let mut tokens = Vec::new();
    for role in Role::ALL {
        let name = format!("u-{}", role.as_str());
        let a = store
            .create_account(
                "tester",
                &NewAccount {
                    username: &name,
                    display_name: &name,
                    role,
                    contract_id: role.is_scoped_to_one_contract().then_some(cid),
                    password: PASSWORD,
                    must_change_password: false,
                },
            )
            .await
            .expect("account");
        tokens.push((
            role,
            format!(
                "Bearer {}",
                store.create_api_token(a.id, "test").await.expect("token")
            ),
        ));
    }
    let left = store
        .leave_offline_message(&NewOfflineMessage {
            contract_id: cid,
            client_msg_id: "o-1",
            name: Some("王小明"),
            reach: "13812345678",
            text: "宽带断了,请回电 13812345678",
        })
        .await
        .expect("message");
    (tokens, left.contact_id.to_string())
}

/// The CSRF token a signed-in page carries in its forms.
fn csrf_in(page: &str) -> String {
    let at = page
        .find("name=\"csrf\" value=\"")
        .expect("a form with a CSRF token");
    let rest = &page[at + "name=\"csrf\" value=\"".len()..];
    rest[..rest.find('"').expect("end of value")].to_owned()
}

#[tokio::test]
async fn offline_messages_are_listed_masked_to_staff_and_followed_up_by_the_front_line() {
    on_each_backend(async |store: &Store| {
        let (tokens, id) = setup(store).await;
        with_server(store, async |addr: SocketAddr| {
            // (method, path, status for: admin, supervisor, agent, qa, client, anonymous)
            let list = format!("/api/v1/offline-messages?contract={EXAMPLE_NUMBER}");
            let unknown = format!("/api/v1/offline-messages/{}/follow-up", uuid_like());
            let matrix: [(&str, &str, [u16; 6]); 2] = [
                ("GET", &list, [200, 200, 200, 200, 403, 401]),
                // An id that is not there: 404 for those who may act, 403 for the rest.
                ("POST", &unknown, [404, 404, 404, 403, 403, 401]),
            ];
            for (method, path, expected) in matrix {
                for (i, want) in expected.iter().enumerate() {
                    let headers: Vec<(&str, &str)> = tokens
                        .get(i)
                        .map(|(_, t)| vec![("Authorization", t.as_str())])
                        .unwrap_or_default();
                    let r = request(addr, method, path, &headers, None).await;
                    assert_eq!(r.status, *want, "{method} {path} as #{i}: {}", r.body);
                }
            }
            let agent = tokens[2].1.as_str();
            let r = get(addr, &list, &[("Authorization", agent)]).await;
            let listed = r.json();
            assert_eq!(listed[0]["id"], id.as_str());
            assert_eq!(listed[0]["phone"], "138****5678");
            assert_eq!(listed[0]["name"], "王**");
            assert_eq!(listed[0]["text"], "宽带断了,请回电 138****5678");
            assert!(
                !r.body.contains("13812345678"),
                "nothing unmasked in the list"
            );

            let done = format!("/api/v1/offline-messages/{id}/follow-up?contract={EXAMPLE_NUMBER}");
            let r = request(addr, "POST", &done, &[("Authorization", agent)], None).await;
            assert_eq!(r.status, 200, "{}", r.body);
            let r = request(addr, "POST", &done, &[("Authorization", agent)], None).await;
            assert_eq!(r.status, 404, "followed up once only");
            let r = get(addr, &list, &[("Authorization", agent)]).await;
            assert_eq!(
                r.json().as_array().map(Vec::len),
                Some(0),
                "no longer waiting"
            );
            let r = get(addr, &format!("{list}&all=1"), &[("Authorization", agent)]).await;
            assert!(r.json()[0]["followed_up_at"].is_string());
        })
        .await;
    })
    .await;
}

fn uuid_like() -> String {
    "01890000-0000-7000-8000-000000000000".to_owned()
}

#[tokio::test]
async fn revealing_a_customers_contact_needs_a_reason_and_is_audit_logged() {
    on_each_backend(async |store: &Store| {
        let (_, id) = setup(store).await;
        with_server(store, async |addr: SocketAddr| {
            let r = sign_in(addr, "u-agent", PASSWORD).await;
            let session = format!(
                "kefu_session={}",
                r.cookie("kefu_session").expect("session")
            );
            let page = get(
                addr,
                "/console/messages",
                &[("Cookie", &session), ("Accept-Language", "zh-CN")],
            )
            .await;
            assert_eq!(page.status, 200, "{}", page.body);
            assert!(page.body.contains("138****5678") && page.body.contains("王**"));
            assert!(!page.body.contains("13812345678"), "masked by default");
            let csrf = csrf_in(&page.body);
            let reveal = format!("/console/messages/{id}/reveal?contract={EXAMPLE_NUMBER}");
            let post = async |fields: &[(&str, &str)]| {
                request(
                    addr,
                    "POST",
                    &reveal,
                    &[("Cookie", &session)],
                    Some(("application/x-www-form-urlencoded", &form(fields))),
                )
                .await
            };
            assert_eq!(
                post(&[("csrf", "forged"), ("reason", "回电")]).await.status,
                403
            );
            assert_eq!(post(&[("csrf", &csrf), ("reason", " ")]).await.status, 400);
            let shown = post(&[("csrf", &csrf), ("reason", "客户要求回电")]).await;
            assert_eq!(shown.status, 200, "{}", shown.body);
            assert!(shown.body.contains("13812345678") && shown.body.contains("王小明"));
            assert_eq!(shown.header("cache-control"), Some("no-store"));
            let log = store.audit().list(1, 1000).await.expect("audit");
            let entry = log
                .iter()
                .find(|e| e.action == "customer.unmasked")
                .expect("the view is in the audit log");
            assert_eq!(entry.actor, "u-agent");
            assert_eq!(entry.subject, format!("contact:{id}"));
            assert_eq!(entry.detail["reason"], "客户要求回电");
            assert!(
                !entry.detail.to_string().contains("13812345678"),
                "no PII in the log"
            );

            // A QA reviewer sees the list but may not unmask.
            let r = sign_in(addr, "u-qa_reviewer", PASSWORD).await;
            let qa = format!(
                "kefu_session={}",
                r.cookie("kefu_session").expect("session")
            );
            let page = get(addr, "/console/messages", &[("Cookie", &qa)]).await;
            assert_eq!(page.status, 200);
            assert!(!page.body.contains("/reveal"), "no reveal form for QA");
            let r = request(
                addr,
                "POST",
                &reveal,
                &[("Cookie", &qa)],
                Some((
                    "application/x-www-form-urlencoded",
                    &form(&[("csrf", &csrf_in(&page.body)), ("reason", "看看")]),
                )),
            )
            .await;
            assert_eq!(r.status, 403);
        })
        .await;
    })
    .await;
}

#[tokio::test]
async fn a_chosen_language_follows_the_person_to_another_browser() {
    on_each_backend(async |store: &Store| {
        setup(store).await;
        with_server(store, async |addr: SocketAddr| {
            let r = sign_in(addr, "u-supervisor", PASSWORD).await;
            assert!(r.cookie("kefu_lang").is_none(), "nothing chosen yet");
            let session = format!(
                "kefu_session={}",
                r.cookie("kefu_session").expect("session")
            );
            let home = get(
                addr,
                "/",
                &[("Cookie", &session), ("Accept-Language", "zh-CN")],
            )
            .await;
            assert!(home.body.contains("语言"));
            let csrf = csrf_in(&home.body);
            let r = request(
                addr,
                "POST",
                "/account/language",
                &[("Cookie", &session)],
                Some((
                    "application/x-www-form-urlencoded",
                    &form(&[("csrf", &csrf), ("lang", "xx")]),
                )),
            )
            .await;
            assert_eq!(r.status, 400, "only zh or en");
            let r = request(
                addr,
                "POST",
                "/account/language",
                &[("Cookie", &session)],
                Some((
                    "application/x-www-form-urlencoded",
                    &form(&[("csrf", &csrf), ("lang", "en")]),
                )),
            )
            .await;
            assert_eq!(
                (r.status, r.cookie("kefu_lang").as_deref()),
                (303, Some("en"))
            );

            // Another browser (no cookies, Chinese preferred) signs in: English, as chosen.
            let r = sign_in(addr, "u-supervisor", PASSWORD).await;
            assert_eq!(r.cookie("kefu_lang").as_deref(), Some("en"));
            let session = format!(
                "kefu_session={}; kefu_lang=en",
                r.cookie("kefu_session").expect("session")
            );
            let home = get(
                addr,
                "/",
                &[("Cookie", &session), ("Accept-Language", "zh-CN")],
            )
            .await;
            assert!(home.body.contains("Language") && home.body.contains("Messages left"));
        })
        .await;
    })
    .await;
}

#[tokio::test]
async fn the_history_shows_an_agent_their_own_conversations_masked_and_supervisors_all() {
    on_each_backend(async |store: &Store| {
        let (tokens, _) = setup(store).await;
        let cid = store
            .contract_id(EXAMPLE_NUMBER)
            .await
            .expect("db")
            .expect("contract");
        let agent = store
            .accounts()
            .await
            .expect("accounts")
            .into_iter()
            .find(|a| a.username == "u-agent")
            .expect("agent");
        let conv = store.open_conversation(cid).await.expect("open");
        assert!(
            store
                .assign_conversation(&conv.id, agent.id)
                .await
                .expect("assign")
        );
        store
            .append_message(
                &conv.id,
                kefu_store::chat::Sender::Customer,
                None,
                "c1",
                "我的号码是 13812345678",
            )
            .await
            .expect("message");
        store
            .append_message(
                &conv.id,
                kefu_store::chat::Sender::Agent,
                Some(agent.id),
                "a1",
                "好的,马上处理",
            )
            .await
            .expect("reply");
        store
            .create_account(
                "tester",
                &NewAccount {
                    username: "u-other",
                    display_name: "other",
                    role: Role::Agent,
                    contract_id: None,
                    password: PASSWORD,
                    must_change_password: false,
                },
            )
            .await
            .expect("another agent");
        with_server(store, async |addr: SocketAddr| {
            let session_of = async |user: &str| {
                let r = sign_in(addr, user, PASSWORD).await;
                format!(
                    "kefu_session={}",
                    r.cookie("kefu_session").expect("session")
                )
            };
            let mine = session_of("u-agent").await;
            let list = get(
                addr,
                "/console/history",
                &[("Cookie", &mine), ("Accept-Language", "zh-CN")],
            )
            .await;
            assert_eq!(list.status, 200, "{}", list.body);
            assert!(
                list.body.contains(&conv.id),
                "the agent sees the conversation they handled"
            );
            let path = format!("/console/history/{}", conv.id);
            let t = get(addr, &path, &[("Cookie", &mine)]).await;
            assert_eq!(t.status, 200);
            assert!(t.body.contains("138****5678") && t.body.contains("马上处理"));
            assert!(
                !t.body.contains("13812345678"),
                "numbers masked in the transcript"
            );

            let other = session_of("u-other").await;
            let list = get(addr, "/console/history", &[("Cookie", &other)]).await;
            assert!(!list.body.contains(&conv.id), "not another agent's");
            assert_eq!(get(addr, &path, &[("Cookie", &other)]).await.status, 404);

            let boss = session_of("u-supervisor").await;
            assert!(
                get(addr, "/console/history", &[("Cookie", &boss)])
                    .await
                    .body
                    .contains(&conv.id)
            );
            assert_eq!(get(addr, &path, &[("Cookie", &boss)]).await.status, 200);
            assert_eq!(
                get(addr, "/console/history?day=yesterday", &[("Cookie", &boss)])
                    .await
                    .status,
                400
            );
            // The client's viewer has no console history.
            let client = tokens[4].1.as_str();
            assert_eq!(
                get(addr, "/console/history", &[("Authorization", client)])
                    .await
                    .status,
                403
            );
        })
        .await;
    })
    .await;
}

#[tokio::test]
async fn searching_a_phone_number_finds_calls_and_messages_masked_and_is_audit_logged() {
    on_each_backend(async |store: &Store| {
        let (tokens, _) = setup(store).await;
        with_server(store, async |addr: SocketAddr| {
            let admin = tokens[0].1.as_str();
            let now = jiff::Timestamp::now();
            for (i, (kind, secs)) in [("enqueued", 60), ("answered", 50), ("ended", 10)].into_iter().enumerate() {
                let at = now - jiff::SignedDuration::from_secs(secs);
                let body = serde_json::json!({"contract": EXAMPLE_NUMBER, "event_id": format!("e{i}"),
                    "call_id": "call-1", "type": kind, "at": at.to_string(), "queue": "10000",
                    "caller": "+86 138 1234 5678", "agent": "A007"});
                let r = request(addr, "POST", "/api/v1/calls/events", &[("Authorization", admin)],
                    Some(("application/json", &body.to_string()))).await;
                assert!(r.status < 300, "{}", r.body);
            }
            let r = sign_in(addr, "u-agent", PASSWORD).await;
            let session = format!("kefu_session={}", r.cookie("kefu_session").expect("session"));
            let page = get(addr, "/console/search?phone=13812345678", &[("Cookie", &session), ("Accept-Language", "zh-CN")]).await;
            assert_eq!(page.status, 200, "{}", page.body);
            assert!(page.body.contains("2 条记录"), "the call and the message left: {}", page.body);
            assert!(page.body.contains("A007") && page.body.contains("在线留言"));
            assert!(!page.body.contains("13812345678"), "masked");
            let short = get(addr, "/console/search?phone=123", &[("Cookie", &session), ("Accept-Language", "zh-CN")]).await;
            assert!(short.body.contains("至少 5 位数字"));
            let log = store.audit().list(1, 1000).await.expect("audit");
            let searched: Vec<_> = log.iter().filter(|e| e.action == "customer.searched").collect();
            assert_eq!(searched.len(), 1, "one search with a number, one entry");
            assert_eq!(searched[0].actor, "u-agent");
            assert!(!searched[0].detail.to_string().contains("13812345678"));
            // QA reviewers and the client's viewer do not search customers.
            assert_eq!(get(addr, "/console/search?phone=13812345678", &[("Authorization", tokens[3].1.as_str())]).await.status, 403);
            assert_eq!(get(addr, "/console/search?phone=13812345678", &[("Authorization", tokens[4].1.as_str())]).await.status, 403);
        })
        .await;
    })
    .await;
}

#[tokio::test]
async fn the_wallboard_says_who_is_on_duty_against_what_each_channel_needs() {
    on_each_backend(async |store: &Store| {
        let (tokens, _) = setup(store).await;
        with_server(store, async |addr: SocketAddr| {
            let supervisor = tokens[1].1.as_str();
            let agent = tokens[2].1.as_str();
            let r = request(
                addr,
                "PUT",
                "/api/v1/presence/phone",
                &[("Authorization", agent)],
                Some(("application/json", r#"{"on_duty":true}"#)),
            )
            .await;
            assert_eq!(r.status, 200, "{}", r.body);
            let board = get(
                addr,
                &format!("/api/v1/wallboard?contract={EXAMPLE_NUMBER}"),
                &[("Authorization", supervisor)],
            )
            .await;
            assert_eq!(board.status, 200, "{}", board.body);
            let v = board.json();
            let staffing = v["staffing"].as_array().expect("staffing per channel");
            let phone = staffing
                .iter()
                .find(|s| s["channel"] == "phone")
                .expect("phone");
            assert_eq!(phone["open"], true, "the example's phone line is 24×7");
            assert_eq!(phone["on_duty"], 1);
            assert_eq!(phone["min_agents"], 2);
            assert_eq!(phone["not_provided_now"], false);
            let chat = staffing
                .iter()
                .find(|s| s["channel"] == "chat")
                .expect("chat");
            assert_eq!(chat["on_duty"], 0);
            assert_eq!(
                chat["not_provided_now"], chat["open"],
                "open with nobody on duty = not provided"
            );
        })
        .await;
    })
    .await;
}

#[tokio::test]
async fn the_staffing_models_and_the_week_plan_answer_over_the_api() {
    on_each_backend(async |store: &Store| {
        let (tokens, _) = setup(store).await;
        with_server(store, async |addr: SocketAddr| {
            let post = async |who: Option<&str>, body: &str| {
                let headers: Vec<(&str, &str)> = who.map(|t| vec![("Authorization", t)]).unwrap_or_default();
                request(addr, "POST", "/api/v1/staffing/erlang", &headers, Some(("application/json", body))).await
            };
            // pyworkforce's Erlang C case: 14 agents, 20 with 30% shrinkage.
            let case = r#"{"model":"c","calls":100,"interval_seconds":1800,"aht_seconds":180,"threshold_seconds":20,"target_sl":0.8,"shrinkage":0.3}"#;
            let r = post(Some(tokens[2].1.as_str()), case).await;
            assert_eq!(r.status, 200, "{}", r.body);
            assert_eq!((r.json()["required_agents"].as_u64(), r.json()["required_agents_with_shrinkage"].as_u64()), (Some(14), Some(20)));
            let bad = post(Some(tokens[2].1.as_str()), r#"{"model":"a","traffic":10,"aht_seconds":180,"agents":12}"#).await;
            assert_eq!(bad.status, 422);
            assert!(bad.body.contains("patience_seconds"), "{}", bad.body);
            assert_eq!(post(Some(tokens[4].1.as_str()), case).await.status, 403, "not for the client's viewer");
            assert_eq!(post(None, case).await.status, 401);

            // Chat with concurrency and an email backlog.
            let r = request(addr, "POST", "/api/v1/staffing/chat", &[("Authorization", tokens[2].1.as_str())],
                Some(("application/json", r#"{"chats":120,"interval_seconds":1800,"max_chats":3,"aht_by_concurrency":[240,270,300],"threshold_seconds":3,"target_sl":0.8}"#))).await;
            assert_eq!(r.status, 200, "{}", r.body);
            let chat = r.json();
            let agents = chat["required_agents"].as_u64().expect("agents");
            // 120 chats × 300 s ÷ 1800 s = 20 erlangs of slots: more than 20 / 3 agents.
            assert!((7..=12).contains(&agents), "{chat}");
            assert_eq!(chat["max_chats_per_agent"], 3);
            let r = request(addr, "POST", "/api/v1/staffing/email", &[("Authorization", tokens[2].1.as_str())],
                Some(("application/json", r#"{"emails":400,"aht_seconds":420,"arrival_span_seconds":50400,"reply_window_seconds":86400,"max_occupancy":0.85}"#))).await;
            assert_eq!(r.status, 200, "{}", r.body);
            // 400 × 420 s = 168,000 s of work; one agent gives (50,400 + 86,400) × 0.85 = 116,280 s.
            assert_eq!(r.json()["required_agents"], 2);
            let r = request(addr, "POST", "/api/v1/staffing/email", &[("Authorization", tokens[2].1.as_str())],
                Some(("application/json", r#"{"emails":400,"aht_seconds":0,"arrival_span_seconds":50400,"reply_window_seconds":86400}"#))).await;
            assert_eq!(r.status, 422);
            assert!(r.body.contains("aht_seconds"), "{}", r.body);

            let plan = get(addr, "/api/v1/staffing/plan?week=2026-W48", &[("Authorization", tokens[1].1.as_str())]).await;
            assert_eq!(plan.status, 200, "{}", plan.body);
            assert_eq!(plan.json()["slots"].as_array().map(Vec::len), Some(7 * 48));
            let bad_week = get(addr, "/api/v1/staffing/plan?week=48", &[("Authorization", tokens[1].1.as_str())]).await;
            assert_eq!(bad_week.status, 422);
            assert_eq!(get(addr, "/api/v1/staffing/plan?week=2026-W48", &[("Authorization", tokens[2].1.as_str())]).await.status, 403);
        })
        .await;
    })
    .await;
}
