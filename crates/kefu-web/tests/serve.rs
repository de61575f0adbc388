//! The server started through its real start-up path (`Server::bind` on port 0), on SQLite and
//! PostgreSQL: health, metrics, request ids, errors as problem+json, graceful shutdown.

#[path = "../../kefu-store/tests/common/mod.rs"]
mod common;

use std::net::SocketAddr;

use common::on_each_backend;
use kefu_store::Store;
use kefu_web::{ServeConfig, Server};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A response as the tests look at it.
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// One HTTP/1.1 GET over a fresh connection (enough for these endpoints; no client library).
async fn get(addr: SocketAddr, path: &str, extra: &[(&str, &str)]) -> Reply {
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let mut req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in extra {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    stream.write_all(req.as_bytes()).await.expect("send");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.expect("read");
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").expect("a head and a body");
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .expect("status line");
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    Reply {
        status,
        headers,
        body: dechunk(body),
    }
}

/// Undoes chunked transfer encoding if the body uses it.
fn dechunk(body: &str) -> String {
    let mut out = String::new();
    let mut rest = body;
    loop {
        let Some((size, after)) = rest.split_once("\r\n") else {
            return body.to_owned();
        };
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            return body.to_owned();
        };
        if n == 0 {
            return out;
        }
        let Some(chunk) = after.get(..n) else {
            return body.to_owned();
        };
        out.push_str(chunk);
        rest = after.get(n + 2..).unwrap_or("");
    }
}

/// Starts a server on the store, runs `f` against it, then shuts it down gracefully.
async fn with_server(store: &Store, f: impl AsyncFnOnce(SocketAddr)) {
    let config = ServeConfig {
        listen: "127.0.0.1:0".to_owned(),
        ..ServeConfig::default()
    };
    let server = Server::bind(&config, store.clone()).await.expect("bind");
    let addr = server.local_addr().expect("addr");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(server.serve_until(async {
        let _ = stopped.await;
    }));
    f(addr).await;
    let _ = stop.send(());
    let ended = tokio::time::timeout(std::time::Duration::from_secs(10), task)
        .await
        .expect("the server stops within 10 s");
    assert!(
        matches!(ended, Ok(Ok(()))),
        "graceful shutdown ends cleanly"
    );
}

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
