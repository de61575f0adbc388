//! Live call events through the real server, on SQLite and PostgreSQL: stored once per event
//! id, counted as calls when they end (in any order), refused when they contradict each
//! other, and in the same figures as imported calls.

#[path = "../../kefu-store/tests/common/mod.rs"]
mod common;
mod support;

use std::net::SocketAddr;

use common::on_each_backend;
use kefu_core::access::Role;
use kefu_core::calendar::HolidayCalendar;
use kefu_core::phone::CallOutcome;
use kefu_store::Store;
use kefu_store::accounts::NewAccount;
use support::{Reply, example_contract, request, with_server};

use support::EXAMPLE_NUMBER as NUMBER;

async fn token(store: &Store, role: Role) -> String {
    let name = format!("pbx-{}", role.as_str());
    let a = store
        .create_account(
            "tester",
            &NewAccount {
                username: &name,
                display_name: &name,
                role,
                contract_id: None,
                password: "a long enough password",
                must_change_password: false,
            },
        )
        .await
        .expect("account");
    store.create_api_token(a.id, "pbx").await.expect("token")
}

async fn post(addr: SocketAddr, token: &str, body: &str) -> Reply {
    let auth = format!("Bearer {token}");
    request(
        addr,
        "POST",
        "/api/v1/calls/events",
        &[("Authorization", &auth)],
        Some(("application/json", body)),
    )
    .await
}

fn event(id: &str, call: &str, kind: &str, at: &str, extra: &str) -> String {
    format!(
        r#"{{"contract":"{NUMBER}","event_id":"{id}","call_id":"{call}","type":"{kind}","at":"{at}"{extra}}}"#
    )
}

#[tokio::test]
async fn pushed_events_become_calls_once_in_any_order() {
    on_each_backend(async |store: &Store| {
        example_contract(store).await;
        let pbx = token(store, Role::Supervisor).await;
        let agent = token(store, Role::Agent).await;
        with_server(store, async |addr: SocketAddr| {
            let enq = |id: &str, call: &str, at: &str| {
                event(
                    id,
                    call,
                    "enqueued",
                    at,
                    r#","queue":"hotline","caller":"13800138000""#,
                )
            };
            // An answered call, its first event sent twice.
            let r = post(addr, &pbx, &enq("e1", "c1", "2026-10-05T02:00:00Z")).await;
            assert_eq!(
                (r.status, r.json()["call"].as_str()),
                (201, Some("open")),
                "{}",
                r.body
            );
            let r = post(addr, &pbx, &enq("e1", "c1", "2026-10-05T02:00:00Z")).await;
            assert_eq!(
                (r.status, r.json()["recorded"].as_str()),
                (200, Some("duplicate"))
            );
            post(
                addr,
                &pbx,
                &event(
                    "e2",
                    "c1",
                    "answered",
                    "2026-10-05T02:00:04Z",
                    r#","agent":"8001""#,
                ),
            )
            .await;
            let r = post(
                addr,
                &pbx,
                &event("e3", "c1", "ended", "2026-10-05T02:03:04Z", ""),
            )
            .await;
            assert_eq!(r.json()["call"], "counted", "{}", r.body);

            // An abandoned call.
            post(addr, &pbx, &enq("e4", "c2", "2026-10-05T02:10:00Z")).await;
            let r = post(
                addr,
                &pbx,
                &event("e5", "c2", "abandoned", "2026-10-05T02:10:30Z", ""),
            )
            .await;
            assert_eq!(r.json()["call"], "counted");

            // Out of order: the end first, then the start, then the answer in between.
            let r = post(
                addr,
                &pbx,
                &event("e8", "c3", "ended", "2026-10-05T02:25:00Z", ""),
            )
            .await;
            assert_eq!(r.json()["call"], "open", "no enqueued yet");
            let r = post(addr, &pbx, &enq("e6", "c3", "2026-10-05T02:20:00Z")).await;
            assert_eq!(r.json()["call"], "counted");
            let r = post(
                addr,
                &pbx,
                &event(
                    "e7",
                    "c3",
                    "answered",
                    "2026-10-05T02:20:02Z",
                    r#","agent":"8002""#,
                ),
            )
            .await;
            assert_eq!(r.json()["call"], "counted");

            // Contradictions are refused and not stored.
            post(addr, &pbx, &enq("e9", "c4", "2026-10-05T03:00:00Z")).await;
            post(
                addr,
                &pbx,
                &event("e10", "c4", "ended", "2026-10-05T03:01:00Z", ""),
            )
            .await;
            let r = post(
                addr,
                &pbx,
                &event("e11", "c4", "abandoned", "2026-10-05T03:02:00Z", ""),
            )
            .await;
            assert_eq!(r.status, 422, "{}", r.body);
            assert!(r.body.contains("after the call ended"), "{}", r.body);

            // Mistakes and people who may not push.
            for (body, status, says) in [
                (
                    event("x1", "c9", "rang", "2026-10-05T03:00:00Z", ""),
                    400,
                    "type",
                ),
                (event("x2", "c9", "enqueued", "yesterday", ""), 400, "at"),
                (
                    event("x3", "c9", "answered", "2026-10-05T03:00:00Z", ""),
                    400,
                    "agent",
                ),
                (
                    event("x4", "c9", "ended", "2026-10-05T03:00:00Z", "")
                        .replace(NUMBER, "NO-SUCH"),
                    422,
                    "NO-SUCH",
                ),
            ] {
                let r = post(addr, &pbx, &body).await;
                assert_eq!(r.status, status, "{body}: {}", r.body);
                assert!(r.body.contains(says), "{body}: {}", r.body);
            }
            let r = post(addr, &agent, &enq("x5", "c9", "2026-10-05T03:00:00Z")).await;
            assert_eq!(r.status, 403);
        })
        .await;

        // The calls, as the engine reads them.
        let cid = store
            .contract_id(NUMBER)
            .await
            .expect("id")
            .expect("stored");
        let from: jiff::Timestamp = "2026-10-05T00:00:00Z".parse().expect("t");
        let to: jiff::Timestamp = "2026-10-06T00:00:00Z".parse().expect("t");
        let calls = store
            .calls_offered_between(cid, Some("live"), from, to, true)
            .await
            .expect("calls");
        let got: Vec<(&str, CallOutcome, Option<&str>)> = calls
            .iter()
            .map(|c| {
                (
                    c.call.source_id.as_str(),
                    c.call.outcome,
                    c.call.agent.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                ("c1", CallOutcome::Answered, Some("8001")),
                ("c2", CallOutcome::Abandoned, None),
                ("c3", CallOutcome::Answered, Some("8002")),
                ("c4", CallOutcome::TimedOut, None),
            ]
        );
        assert_eq!(calls[0].call.caller.as_deref(), Some("13800138000"));
        assert_eq!(
            store.call_count(cid).await.expect("count"),
            4,
            "each call once"
        );
        // And in the figures, through the same buckets as imported calls.
        let stored = kefu_app::contracts::load_stored(store, NUMBER, &HolidayCalendar::builtin())
            .await
            .expect("contract");
        let plan = kefu_app::contracts::bucket_plan(&stored).expect("plan");
        let day = jiff::civil::date(2026, 10, 5);
        let buckets = store
            .phone_buckets(cid, &plan, day, day)
            .await
            .expect("buckets");
        let sum = |f: fn(&kefu_core::phone::aggregate::PhoneBucket) -> u64| -> u64 {
            buckets.intervals.iter().map(|(_, b)| f(b)).sum()
        };
        assert_eq!(
            (
                sum(|b| b.offered),
                sum(|b| b.answered),
                sum(|b| b.abandoned)
            ),
            (4, 2, 1)
        );
    })
    .await;
}
