//! Live chat through the real server, on SQLite and PostgreSQL: a customer writes, an agent on
//! duty is given the conversation and replies; every message is acknowledged with its number
//! once stored; a customer who reconnects gets what they missed, and nothing twice.

#[path = "../../kefu-store/tests/common/mod.rs"]
mod common;
mod support;

use std::net::SocketAddr;
use std::time::Duration;

use common::on_each_backend;
use futures_util::{SinkExt, StreamExt};
use kefu_core::access::Role;
use kefu_store::Store;
use kefu_store::accounts::NewAccount;
use serde_json::{Value, json};
use support::{request, with_server};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(addr: SocketAddr, path: &str, bearer: Option<&str>) -> Ws {
    let mut req = format!("ws://{addr}{path}")
        .into_client_request()
        .expect("request");
    if let Some(t) = bearer {
        req.headers_mut().insert(
            "Authorization",
            format!("Bearer {t}").parse().expect("header"),
        );
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

/// The next frame of `kind` (others skipped), within 10 s.
async fn next_of(ws: &mut Ws, kind: &str) -> Value {
    let found = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(Ok(m)) = ws.next().await {
            if let Message::Text(t) = m {
                let v: Value = serde_json::from_str(&t).expect("json frame");
                if v["type"] == kind {
                    return Some(v);
                }
                assert_ne!(v["type"], "error", "unexpected error frame: {v}");
            }
        }
        None
    })
    .await;
    match found {
        Ok(Some(v)) => v,
        _ => panic!("no `{kind}` frame"),
    }
}

async fn setup(store: &Store) -> String {
    common::placeholder_contract(store, "HT-CHAT").await;
    let a = store
        .create_account(
            "tester",
            &NewAccount {
                username: "li.agent",
                display_name: "李坐席",
                role: Role::Agent,
                contract_id: None,
                password: "a long enough password",
                must_change_password: false,
            },
        )
        .await
        .expect("agent");
    store
        .create_api_token(a.id, "console")
        .await
        .expect("token")
}

#[tokio::test]
async fn a_customer_and_an_agent_talk_and_a_reconnect_loses_nothing() {
    on_each_backend(async |store: &Store| {
        let token = setup(store).await;
        with_server(store, async |addr: SocketAddr| {
            // The customer writes before any agent is there: it waits, first in line.
            let mut customer = connect(addr, "/chat/ws", None).await;
            send(&mut customer, json!({"type": "start", "contract": "HT-CHAT"})).await;
            let welcome = next_of(&mut customer, "welcome").await;
            let conv = welcome["conversation"].as_str().expect("id").to_owned();
            let secret = welcome["token"].as_str().expect("secret").to_owned();
            assert_eq!(next_of(&mut customer, "queue").await["position"], 1);
            send(&mut customer, json!({"type": "send", "id": "m1", "text": "宽带断了"})).await;
            assert_eq!(next_of(&mut customer, "ack").await["seq"], 1);

            // An agent off duty is told to go on duty; on duty, gets the conversation.
            let mut agent = connect(addr, "/api/v1/chat/ws", Some(&token)).await;
            assert!(next_of(&mut agent, "error").await["detail"].as_str().is_some_and(|d| d.contains("on duty")));
            let auth = format!("Bearer {token}");
            let r = request(addr, "PUT", "/api/v1/presence/chat", &[("Authorization", &auth)], Some(("application/json", r#"{"on_duty":true}"#))).await;
            assert_eq!(r.status, 200);
            let mut agent = connect(addr, "/api/v1/chat/ws", Some(&token)).await;
            let assigned = next_of(&mut agent, "assigned").await;
            assert_eq!(assigned["conversation"], conv.as_str());
            assert_eq!(assigned["history"][0]["text"], "宽带断了", "the agent sees what was said");
            next_of(&mut customer, "assigned").await;

            send(&mut agent, json!({"type": "send", "conversation": conv, "id": "a1", "text": "您好,请提供宽带账号"})).await;
            assert_eq!(next_of(&mut agent, "ack").await["seq"], 2);
            let got = next_of(&mut customer, "message").await;
            assert_eq!((got["seq"].as_i64(), got["from"].as_str()), (Some(2), Some("agent")));

            // The customer's connection drops; the agent writes meanwhile.
            drop(customer);
            send(&mut agent, json!({"type": "send", "conversation": conv, "id": "a2", "text": "还在吗?"})).await;
            assert_eq!(next_of(&mut agent, "ack").await["seq"], 3);

            // Back, with the last number it had: it gets 3, and only 3.
            let mut customer = connect(addr, "/chat/ws", None).await;
            send(&mut customer, json!({"type": "resume", "conversation": conv, "token": secret, "after": 2})).await;
            next_of(&mut customer, "welcome").await;
            let missed = next_of(&mut customer, "message").await;
            assert_eq!((missed["seq"].as_i64(), missed["text"].as_str()), (Some(3), Some("还在吗?")));

            // A message resent after a lost ack is the same message.
            send(&mut customer, json!({"type": "send", "id": "m2", "text": "在"})).await;
            let first = next_of(&mut customer, "ack").await["seq"].clone();
            send(&mut customer, json!({"type": "send", "id": "m2", "text": "在"})).await;
            assert_eq!(next_of(&mut customer, "ack").await["seq"], first);
            // The agent sees it once (its own messages come back to it too, for its other tabs).
            let mut from_customer = Vec::new();
            while from_customer.is_empty() {
                let m = next_of(&mut agent, "message").await;
                if m["from"] == "customer" {
                    from_customer.push(m["seq"].clone());
                }
            }
            assert_eq!(from_customer, vec![first]);

            // A wrong secret resumes nothing.
            let mut stranger = connect(addr, "/chat/ws", None).await;
            send(&mut stranger, json!({"type": "resume", "conversation": conv, "token": "guess", "after": 0})).await;
            let e = tokio::time::timeout(Duration::from_secs(10), stranger.next()).await.expect("reply");
            assert!(format!("{e:?}").contains("wrong token"));

            send(&mut customer, json!({"type": "rate", "score": 5})).await;
            assert_eq!(next_of(&mut customer, "rated").await["score"], 5);
            send(&mut agent, json!({"type": "end", "conversation": conv})).await;
            next_of(&mut customer, "ended").await;
        })
        .await;
        let all = store.messages_after(&store_conv(store).await, 0).await.expect("messages");
        assert_eq!(all.iter().map(|m| m.seq).collect::<Vec<_>>(), vec![1, 2, 3, 4], "each message once");
    })
    .await;
}

/// The one conversation of the test.
async fn store_conv(store: &Store) -> String {
    use kefu_store::{on_db, sql, sqlx};
    let rows: Vec<(String,)> = on_db!(store.db(), pool => {
        sqlx::query_as(sql!("SELECT id FROM chat_conversations")).fetch_all(pool).await.expect("ids")
    });
    rows[0].0.clone()
}

/// The chat figures reach the quality report: conversations, answered and unanswered ones,
/// turns (inside or outside service hours), ratings, and the 4.1.2 target line.
#[tokio::test]
async fn the_quality_report_carries_the_chat_figures() {
    on_each_backend(async |store: &Store| {
        support::example_contract(store).await;
        let cid = store
            .contract_id(support::EXAMPLE_NUMBER)
            .await
            .expect("id")
            .expect("stored");
        let answered = store.open_conversation(cid).await.expect("open");
        store
            .append_message(
                &answered.id,
                kefu_store::chat::Sender::Customer,
                None,
                "c1",
                "在吗",
            )
            .await
            .expect("c1");
        store
            .append_message(
                &answered.id,
                kefu_store::chat::Sender::Agent,
                None,
                "a1",
                "您好",
            )
            .await
            .expect("a1");
        store
            .rate_conversation(&answered.id, 4)
            .await
            .expect("rate");
        let unanswered = store.open_conversation(cid).await.expect("open");
        store
            .append_message(
                &unanswered.id,
                kefu_store::chat::Sender::Customer,
                None,
                "c1",
                "有人吗",
            )
            .await
            .expect("c1");

        let tz = jiff::tz::TimeZone::get("Asia/Shanghai").expect("tz");
        let today = tz.to_datetime(jiff::Timestamp::now()).date();
        let period = kefu_core::phone::metrics::BillingPeriod::new(today.year(), today.month())
            .expect("period");
        let report = kefu_app::report::phone_quality_report(
            store,
            Some(support::EXAMPLE_NUMBER),
            period,
            std::sync::Arc::new(kefu_core::calendar::HolidayCalendar::builtin()),
            jiff::Timestamp::now(),
        )
        .await
        .expect("report");
        let json = serde_json::to_value(&report).expect("json");
        let chat = &json["channels"]["chat"];
        assert_eq!(chat["conversations"], 2, "{chat}");
        assert_eq!(
            (chat["answered"].as_u64(), chat["unanswered"].as_u64()),
            (Some(1), Some(1))
        );
        let turns =
            chat["turns"].as_u64().unwrap_or(0) + chat["turns_outside_hours"].as_u64().unwrap_or(0);
        assert_eq!(turns, 1, "one wait answered: {chat}");
        assert_eq!(chat["ratings"], 1);
        assert_eq!(chat["average_rating"], 4.0);
        assert_eq!(
            chat["turn_definition"],
            "first_unanswered_to_next_agent_message"
        );
        let target = &chat["targets"][0];
        assert_eq!(
            (target["clause"].as_str(), target["metric"].as_str()),
            (Some("4.1.2"), Some("average_response_time"))
        );
        assert_eq!(target["target"], 3.0);
    })
    .await;
}

/// Chat hours that exclude the present moment in Asia/Shanghai: a one-hour window two hours
/// from now (never wrapping midnight).
fn closed_now_window() -> String {
    let tz = jiff::tz::TimeZone::get("Asia/Shanghai").expect("tz");
    let h = tz.to_datetime(jiff::Timestamp::now()).hour();
    let open = if h + 3 < 24 { h + 2 } else { (h + 3) % 24 };
    format!("{open:02}:00-{:02}:00", open + 1)
}

#[tokio::test]
async fn outside_service_hours_the_widget_takes_a_message_that_becomes_a_contact() {
    on_each_backend(async |store: &Store| {
        let window = closed_now_window();
        support::example_contract_edited(store, |t| {
            t.replace(
                "windows = [\"08:00-22:00\"]",
                &format!("windows = [\"{window}\"]"),
            )
        })
        .await;
        with_server(store, async |addr: SocketAddr| {
            let mut customer = connect(addr, "/chat/ws", None).await;
            send(
                &mut customer,
                json!({"type": "start", "contract": support::EXAMPLE_NUMBER}),
            )
            .await;
            let closed = next_of(&mut customer, "closed").await;
            assert_eq!(closed["takes_messages"], true);
            assert_eq!(
                closed["hours"]["zh"],
                format!("每日 {}", window.replace('-', "–"))
            );
            assert!(
                closed["next_opening"]
                    .as_str()
                    .is_some_and(|t| t.ends_with(&window[..5])),
                "{closed}"
            );

            // A message without a way to reach the customer is refused, with the reason.
            send(
                &mut customer,
                json!({"type": "leave_message", "contract": support::EXAMPLE_NUMBER,
                "id": "o1", "reach": "soon", "text": "宽带断了"}),
            )
            .await;
            let refused = tokio::time::timeout(Duration::from_secs(10), customer.next()).await;
            let refused: Value = match refused {
                Ok(Some(Ok(Message::Text(t)))) => serde_json::from_str(&t).expect("json"),
                other => panic!("no answer: {other:?}"),
            };
            assert_eq!(
                (refused["type"].as_str(), refused["id"].as_str()),
                (Some("error"), Some("o1"))
            );
            assert!(
                refused["detail"]
                    .as_str()
                    .is_some_and(|d| d.contains("phone number")),
                "{refused}"
            );

            let leave = json!({"type": "leave_message", "contract": support::EXAMPLE_NUMBER,
                "id": "o2", "name": "王女士", "reach": "13812345678", "text": "宽带断了,请回电"});
            send(&mut customer, leave.clone()).await;
            let left = next_of(&mut customer, "message_left").await;
            // Sent again (a reconnect before the answer arrived): stored once.
            send(&mut customer, leave).await;
            let again = next_of(&mut customer, "message_left").await;
            assert_eq!(left["reference"], again["reference"]);

            let cid = store
                .contract_id(support::EXAMPLE_NUMBER)
                .await
                .expect("db")
                .expect("contract");
            let open = store.offline_messages(cid, true, 50).await.expect("list");
            assert_eq!(open.len(), 1, "one message, however often it was sent");
            assert_eq!(open[0].text, "宽带断了,请回电");
            assert_eq!(open[0].customer.phone.as_deref(), Some("13812345678"));
            assert_eq!(
                open[0].contact_id.to_string(),
                left["reference"].as_str().expect("ref")
            );
        })
        .await;
    })
    .await;
}
