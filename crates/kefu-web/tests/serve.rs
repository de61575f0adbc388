//! The server started through its real start-up path (`Server::bind` on port 0), on SQLite and
//! PostgreSQL: health, metrics, request ids, errors as problem+json, graceful shutdown.

#[path = "../../kefu-store/tests/common/mod.rs"]
mod common;

mod support;

use common::on_each_backend;
use kefu_store::Store;
use support::{get, with_server};

#[tokio::test]
async fn health_says_ok_when_the_database_answers() {
    on_each_backend(async |store: &Store| {
        with_server(store, async |addr| {
            let r = get(addr, "/healthz", &[]).await;
            assert_eq!(r.status, 200, "{}", r.body);
            let v: serde_json::Value = serde_json::from_str(&r.body).expect("json");
            assert_eq!(v["status"], "ok");
            assert_eq!(v["database"], "ok");
        })
        .await;
    })
    .await;
}

#[tokio::test]
async fn every_response_carries_a_request_id_and_keeps_the_callers() {
    on_each_backend(async |store: &Store| {
        with_server(store, async |addr| {
            let r = get(addr, "/healthz", &[("x-request-id", "trace-42")]).await;
            assert_eq!(r.header("x-request-id"), Some("trace-42"));
            let r = get(addr, "/healthz", &[]).await;
            let id = r.header("x-request-id").expect("a generated request id");
            assert!(uuid::Uuid::parse_str(id).is_ok(), "{id}");
        })
        .await;
    })
    .await;
}

#[tokio::test]
async fn unknown_paths_are_404_problem_json_and_metrics_count_by_route() {
    on_each_backend(async |store: &Store| {
        with_server(store, async |addr| {
            let r = get(addr, "/no/such/page", &[]).await;
            assert_eq!(r.status, 404);
            assert_eq!(r.header("content-type"), Some("application/problem+json"));
            let v: serde_json::Value = serde_json::from_str(&r.body).expect("json");
            assert_eq!(v["status"], 404);
            assert!(
                v["detail"]
                    .as_str()
                    .is_some_and(|d| d.contains("/no/such/page"))
            );
            get(addr, "/healthz", &[]).await;
            get(addr, "/healthz", &[]).await;
            let m = get(addr, "/metrics", &[]).await;
            assert_eq!(m.status, 200);
            assert!(
                m.header("content-type")
                    .is_some_and(|c| c.starts_with("text/plain"))
            );
            assert!(
                m.body.contains(
                    "kefu_http_requests_total{method=\"GET\",route=\"/healthz\",status=\"200\"} 2"
                ),
                "{}",
                m.body
            );
            assert!(m.body.contains("route=\"unmatched\",status=\"404\"} 1"));
            assert!(
                !m.body.contains("/no/such/page"),
                "raw paths never become series"
            );
        })
        .await;
    })
    .await;
}

#[tokio::test]
async fn the_first_start_creates_one_administrator_who_must_change_the_password() {
    on_each_backend(async |store: &Store| {
        let first = store
            .ensure_first_admin()
            .await
            .expect("bootstrap")
            .expect("an admin on an empty store");
        assert_eq!(first.username, "admin");
        assert!(first.one_time_password.len() >= 20);
        assert!(
            store.ensure_first_admin().await.expect("again").is_none(),
            "a second start creates nobody"
        );
        let accounts = store.accounts().await.expect("accounts");
        assert_eq!(accounts.len(), 1);
        assert!(accounts[0].must_change_password);
        assert_eq!(accounts[0].role, kefu_core::access::Role::Admin);
        let ok = store
            .authenticate("admin", &first.one_time_password)
            .await
            .expect("auth");
        assert_eq!(ok.map(|a| a.username), Some("admin".to_owned()));
        for (user, pass) in [
            ("admin", "wrong"),
            ("nobody", first.one_time_password.as_str()),
        ] {
            assert!(
                store
                    .authenticate(user, pass)
                    .await
                    .expect("auth")
                    .is_none()
            );
        }
    })
    .await;
}

/// The OpenAPI document is served, and names every `/api/v1` route the router has (the list
/// below is the router's, kept in step by this test's other half: each must answer other than
/// 404 "no such page").
#[tokio::test]
async fn the_openapi_document_lists_every_api_route() {
    let doc: serde_json::Value =
        serde_json::from_str(kefu_web::assets::OPENAPI_JSON).expect("the document is JSON");
    // The router's own `/api/v1` paths, read from its source so a new route cannot be
    // forgotten here.
    let source = include_str!("../src/lib.rs");
    let mut routes: Vec<&str> = source
        .split('"')
        .filter(|s| s.starts_with("/api/v1/"))
        .collect();
    routes.sort_unstable();
    routes.dedup();
    assert!(routes.len() >= 12, "routes read from lib.rs: {routes:?}");
    for r in &routes {
        assert!(
            doc["paths"].get(*r).is_some(),
            "{r} is missing from openapi.json"
        );
    }
    on_each_backend(async |store: &Store| {
        with_server(store, async |addr| {
            let r = get(addr, "/api/openapi.json", &[]).await;
            assert_eq!(r.status, 200);
            assert_eq!(r.header("content-type"), Some("application/json"));
            let docs = get(addr, "/api/docs", &[]).await;
            assert!(docs.body.contains("/api/v1/calls/events"));
            // Every listed route exists (unauthenticated: 401, never the router's 404).
            for path in routes.iter().map(|r| {
                r.replace("{channel}", "chat")
                    .replace("{number}", "X")
                    .replace("{id}", "X")
            }) {
                let r = get(addr, &path, &[]).await;
                assert_ne!(r.status, 404, "{path} is not routed");
            }
        })
        .await;
    })
    .await;
}
