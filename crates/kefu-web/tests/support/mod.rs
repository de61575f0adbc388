//! For the server tests: start the real server on port 0, and a small HTTP/1.1 client (one
//! request per connection) that is enough to look at status, headers and bodies.

#![allow(dead_code)] // each test binary uses a different part

use std::net::SocketAddr;

use kefu_store::Store;
use kefu_web::{ServeConfig, Server};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The value a `Set-Cookie` gives to `name`.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case("set-cookie"))
            .filter_map(|(_, v)| v.split(';').next())
            .filter_map(|kv| kv.split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_owned())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

pub async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<(&str, &str)>,
) -> Reply {
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if let Some((content_type, b)) = body {
        req.push_str(&format!(
            "Content-Type: {content_type}\r\nContent-Length: {}\r\n",
            b.len()
        ));
    }
    req.push_str("\r\n");
    if let Some((_, b)) = body {
        req.push_str(b);
    }
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
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let chunked = headers.iter().any(|(k, v)| {
        k.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked")
    });
    Reply {
        status,
        headers,
        body: if chunked {
            dechunk(body)
        } else {
            body.to_owned()
        },
    }
}

pub async fn get(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Reply {
    request(addr, "GET", path, headers, None).await
}

fn dechunk(body: &str) -> String {
    let mut out = String::new();
    let mut rest = body;
    while let Some((size, after)) = rest.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 {
            break;
        }
        let Some(chunk) = after.get(..n) else {
            break;
        };
        out.push_str(chunk);
        rest = after.get(n + 2..).unwrap_or("");
    }
    out
}

/// Form encoding of simple fields.
pub fn form(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(k, v)| format!("{k}={}", kefu_web::pages::url_encode(v).replace('/', "%2F")))
        .collect::<Vec<_>>()
        .join("&")
}

/// Starts a server on the store, runs `f` against it, then shuts it down gracefully.
pub async fn with_server(store: &Store, f: impl AsyncFnOnce(SocketAddr)) {
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

/// Signs in through the login form; returns the session cookie.
pub async fn sign_in(addr: SocketAddr, username: &str, password: &str) -> Reply {
    let page = get(addr, "/login", &[]).await;
    let csrf = page
        .cookie("kefu_csrf")
        .expect("the login page sets its CSRF cookie");
    let cookie = format!("kefu_csrf={csrf}");
    let body = form(&[
        ("username", username),
        ("password", password),
        ("csrf", &csrf),
        ("next", "/"),
    ]);
    request(
        addr,
        "POST",
        "/login",
        &[("Cookie", &cookie)],
        Some(("application/x-www-form-urlencoded", &body)),
    )
    .await
}

/// The number of the example contract.
pub const EXAMPLE_NUMBER: &str = "GDT-KF-2026-0017";

/// Stores the example contract (and its amendment) as `kefu contract load` does.
pub async fn example_contract(store: &Store) {
    example_contract_edited(store, |text| text).await;
}

/// The example contract with its base document changed by `edit` first.
pub async fn example_contract_edited(store: &Store, edit: impl Fn(String) -> String) {
    example_contract_as(store, EXAMPLE_NUMBER, edit).await;
}

/// The example contract stored under another number, its base document changed by `edit`.
pub async fn example_contract_as(store: &Store, number: &str, edit: impl Fn(String) -> String) {
    use kefu_core::calendar::HolidayCalendar;
    use kefu_core::contract::SourceFile;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let read_file = |name: &str| {
        let text = std::fs::read_to_string(dir.join(name)).expect("example file");
        if name == "contract.toml" {
            edit(text)
        } else {
            text
        }
    };
    let holidays = HolidayCalendar::builtin();
    let mut read =
        |p: &str| -> Result<(String, String), String> { Ok((p.to_owned(), read_file(p))) };
    let doc = kefu_core::contract::load(
        SourceFile::new("contract.toml".to_owned(), read_file("contract.toml")),
        &holidays,
        &mut read,
    )
    .expect("the example contract validates");
    let versions = kefu_app::contracts::versions_of(&doc, Some("contract.toml".to_owned()));
    store
        .save_contract(number, &doc.base().title, &versions, "tester")
        .await
        .expect("save");
}

/// Gives `username` everything the example contract's staff policy asks of an agent on any
/// channel (certificates, a signed NDA, a recent training and a passed assessment), so that
/// the policy does not keep them from being routed work.
#[allow(dead_code)] // not every test binary routes work
pub async fn staff_records_in_order(store: &Store, username: &str) {
    use kefu_core::staff_policy::{Assessment, Certificate, Nda, Training};
    let user = store
        .account_named(username)
        .await
        .expect("account")
        .expect("the account exists")
        .id;
    let tz = jiff::tz::TimeZone::get("Asia/Shanghai").expect("tz");
    let today = tz.to_datetime(jiff::Timestamp::now()).date();
    let day = |n: i64| today.checked_add(jiff::Span::new().days(n)).expect("day");
    for (i, name) in [
        "呼叫中心服务员(四级)",
        "呼叫中心服务员(三级)",
        "通信业务营业员",
    ]
    .into_iter()
    .enumerate()
    {
        let c = Certificate {
            name: name.to_owned(),
            number: format!("TEST-{i}"),
            issued_on: Some(day(-30)),
            expires_on: Some(day(1000)),
        };
        store
            .add_certificate(user, &c, None)
            .await
            .expect("certificate");
    }
    let nda = Nda {
        signed_on: day(-30),
        document_sha256: None,
    };
    store.add_nda(user, &nda).await.expect("nda");
    let t = Training {
        course: "入职培训".to_owned(),
        held_on: day(-1),
        minutes: 60,
        trainer: None,
        result: None,
    };
    store.add_training(user, &t).await.expect("training");
    let a = Assessment {
        held_on: day(-1),
        title: String::new(),
        score: 100,
        pass_score: 80,
    };
    store.add_assessment(user, &a).await.expect("assessment");
}
