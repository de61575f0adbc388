//! The chat as people use it, in real headless Chromium (driven through chromedriver): a
//! customer on a web page opens the widget and writes; an agent signs in, goes on duty for
//! chat, gets the conversation and replies; the customer sees the reply. Screenshots of the
//! widget and the console are saved for a person to look at (the paths are printed).
//!
//! Needs `chromium` and `chromedriver` (Debian: chromium, chromium-driver); without them the
//! test says `skipped: …`, except under CI=true, where that is a failure.

#[path = "../../kefu-store/tests/common/mod.rs"]
mod common;
mod support;

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use kefu_core::access::Role;
use kefu_store::Store;
use kefu_store::accounts::NewAccount;
use support::with_server;

struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn tools_present() -> bool {
    let has = |c: &str| {
        Command::new(c)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    has("chromedriver") && (has("chromium") || has("chromium-browser"))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

async fn start_driver() -> (Driver, String) {
    let port = free_port();
    let child = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromedriver");
    let url = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "chromedriver did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    (Driver(child), url)
}

async fn browser(driver: &str, width: u32, height: u32) -> Client {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".to_owned(),
        serde_json::json!({
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     format!("--window-size={width},{height}"), "--lang=zh-CN"],
        }),
    );
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    ClientBuilder::new(connector)
        .capabilities(caps)
        .connect(driver)
        .await
        .expect("a browser session")
}

/// Waits until the page has an element matching `css` whose text contains `text`.
async fn wait_text(c: &Client, css: &str, text: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(els) = c.find_all(Locator::Css(css)).await {
            for e in els {
                if e.text().await.is_ok_and(|t| t.contains(text)) {
                    return;
                }
            }
        }
        if Instant::now() >= deadline {
            let body = c
                .find(Locator::Css("body"))
                .await
                .ok()
                .map(|b| async move { b.text().await.unwrap_or_default() });
            let body = match body {
                Some(f) => f.await,
                None => String::new(),
            };
            panic!(
                "no `{css}` containing {text:?} on {:?}; the page says: {body}",
                c.current_url().await.map(|u| u.to_string())
            );
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
}

async fn screenshot(c: &Client, name: &str) {
    let png = c.screenshot().await.expect("screenshot");
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot folder");
    let path = dir.join(name);
    std::fs::write(&path, png).expect("write screenshot");
    eprintln!("screenshot: {}", path.display());
}

async fn sign_in(c: &Client, base: &str, user: &str, password: &str) {
    c.goto(&format!("{base}/login?lang=zh"))
        .await
        .expect("login page");
    c.find(Locator::Id("username"))
        .await
        .expect("user")
        .send_keys(user)
        .await
        .expect("type");
    c.find(Locator::Id("password"))
        .await
        .expect("pw")
        .send_keys(password)
        .await
        .expect("type");
    c.find(Locator::Css("button[type=submit]"))
        .await
        .expect("submit")
        .click()
        .await
        .expect("sign in");
    wait_text(c, "h1", "kefu").await;
}

/// The example contract with chat open around the clock (the story must not depend on the
/// hour it runs at), and a copy whose chat is closed all day but for one early hour.
async fn setup(store: &Store) {
    let hours = "windows = [\"08:00-22:00\"]";
    support::example_contract_edited(store, |t| t.replace(hours, "windows = [\"00:00-24:00\"]"))
        .await;
    support::example_contract_as(store, "CLOSED-1", |t| {
        t.replace(hours, &format!("windows = [\"{}\"]", closed_now_window()))
    })
    .await;
    store
        .create_account(
            "tester",
            &NewAccount {
                username: "zhao",
                display_name: "赵班长",
                role: Role::Supervisor,
                contract_id: None,
                password: "zhao's long password",
                must_change_password: false,
            },
        )
        .await
        .expect("supervisor");
    store
        .create_account(
            "tester",
            &NewAccount {
                username: "wang",
                display_name: "王坐席",
                role: Role::Agent,
                contract_id: None,
                password: "wang's long password",
                must_change_password: false,
            },
        )
        .await
        .expect("agent");
    // What the contract's staff policy asks of a chat agent; without it wang is not routed.
    support::staff_records_in_order(store, "wang").await;
}

/// A one-hour window that does not contain the present moment in Asia/Shanghai.
fn closed_now_window() -> String {
    let tz = jiff::tz::TimeZone::get("Asia/Shanghai").expect("tz");
    let h = tz.to_datetime(jiff::Timestamp::now()).hour();
    let open = if h + 3 < 24 { h + 2 } else { (h + 3) % 24 };
    format!("{open:02}:00-{:02}:00", open + 1)
}

#[tokio::test]
async fn a_customer_chats_with_an_agent_in_real_browsers() {
    if !tools_present() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true: chromium and chromedriver are required"
        );
        eprintln!(
            "skipped: no chromium/chromedriver (Debian: apt install chromium chromium-driver)"
        );
        return;
    }
    let env = common::sqlite_env();
    let store = env.open_ok().await;
    setup(&store).await;
    let (_driver, driver_url) = start_driver().await;
    with_server(&store, async |addr: SocketAddr| {
        let base = format!("http://{addr}");
        // The customer, on a phone-sized screen.
        let customer = browser(&driver_url, 390, 760).await;
        customer
            .goto(&format!(
                "{base}/demo/widget?contract=GDT-KF-2026-0017&lang=zh"
            ))
            .await
            .expect("demo page");
        customer
            .find(Locator::Id("kefu-btn"))
            .await
            .expect("widget button")
            .click()
            .await
            .expect("open");
        let input = customer
            .find(Locator::Id("kefu-input"))
            .await
            .expect("input");
        input.send_keys("你好,我家宽带断网了").await.expect("type");
        customer
            .find(Locator::Id("kefu-send"))
            .await
            .expect("send")
            .click()
            .await
            .expect("send");
        wait_text(&customer, ".kefu-customer .kefu-s", "已送达").await;

        // The agent signs in, goes on duty for chat, opens the chat console.
        let agent = browser(&driver_url, 1100, 800).await;
        agent
            .goto(&format!("{base}/login?lang=zh"))
            .await
            .expect("login page");
        agent
            .find(Locator::Id("username"))
            .await
            .expect("user")
            .send_keys("wang")
            .await
            .expect("type");
        agent
            .find(Locator::Id("password"))
            .await
            .expect("pw")
            .send_keys("wang's long password")
            .await
            .expect("type");
        agent
            .find(Locator::Css("button[type=submit]"))
            .await
            .expect("submit")
            .click()
            .await
            .expect("sign in");
        wait_text(&agent, "h1", "kefu").await;
        agent.goto(&format!("{base}/?lang=zh")).await.expect("home");
        wait_text(&agent, "h1", "客服工作台").await;
        agent
            .find(Locator::Css(
                "form:has(input[name=channel][value=chat]) button",
            ))
            .await
            .expect("chat duty button")
            .click()
            .await
            .expect("go on duty");
        wait_text(&agent, "td.ok", "值班中").await;
        agent
            .goto(&format!("{base}/console/chat?lang=zh"))
            .await
            .expect("console");
        wait_text(&agent, ".conv .m.customer", "宽带断网").await;
        let reply = agent
            .find(Locator::Css(".conv textarea"))
            .await
            .expect("reply box");
        reply
            .send_keys("您好,我来帮您查一下线路")
            .await
            .expect("type");
        agent
            .find(Locator::Css(".conv form button"))
            .await
            .expect("send")
            .click()
            .await
            .expect("send");
        wait_text(&agent, ".conv .m.agent .s", "已送达").await;

        // The customer sees the reply.
        wait_text(&customer, ".kefu-agent", "我来帮您查一下线路").await;
        screenshot(&customer, "widget.png").await;
        screenshot(&agent, "console-chat.png").await;

        // The supervisor's wallboard shows that response time.
        let board = browser(&driver_url, 1280, 800).await;
        sign_in(&board, &base, "zhao", "zhao's long password").await;
        board
            .goto(&format!("{base}/wallboard?lang=zh"))
            .await
            .expect("wallboard");
        // Two contracts: the board asks which.
        board
            .find(Locator::LinkText("GDT-KF-2026-0017"))
            .await
            .expect("a link per contract")
            .click()
            .await
            .expect("pick");
        wait_text(&board, ".tile", "今日响应时间").await;
        wait_text(&board, ".tile .big", " s").await;
        screenshot(&board, "wallboard.png").await;

        // Outside service hours the widget shows the hours and takes a message instead.
        customer
            .goto(&format!("{base}/demo/widget?contract=CLOSED-1&lang=zh"))
            .await
            .expect("demo page");
        customer
            .find(Locator::Id("kefu-btn"))
            .await
            .expect("widget button")
            .click()
            .await
            .expect("open");
        wait_text(&customer, "#kefu-offline p", "现在不在服务时间内").await;
        screenshot(&customer, "widget-closed.png").await;
        for (name, text) in [
            ("name", "王女士"),
            ("reach", "13812345678"),
            ("text", "宽带断了,明早请回电"),
        ] {
            customer
                .find(Locator::Css(&format!("#kefu-offline [name={name}]")))
                .await
                .expect("offline form field")
                .send_keys(text)
                .await
                .expect("type");
        }
        customer
            .find(Locator::Css("#kefu-offline button"))
            .await
            .expect("leave")
            .click()
            .await
            .expect("leave");
        wait_text(&customer, ".kefu-note", "留言已收到").await;
        screenshot(&customer, "widget-offline.png").await;

        // The agent finds it, masked, in the console's messages.
        agent
            .goto(&format!(
                "{base}/console/messages?contract=CLOSED-1&lang=zh"
            ))
            .await
            .expect("messages");
        wait_text(&agent, "td", "138****5678").await;
        screenshot(&agent, "console-messages.png").await;

        // The API docs page sends a request with the signed-in session and shows the answer.
        agent.goto(&format!("{base}/api/docs")).await.expect("docs");
        wait_text(&agent, "details.op summary", "/api/v1/me").await;
        let me = agent
            .find(Locator::XPath(
                "//details[summary/code[normalize-space()='/api/v1/me']]",
            ))
            .await
            .expect("the /api/v1/me operation");
        me.find(Locator::Css("summary"))
            .await
            .expect("summary")
            .click()
            .await
            .expect("open");
        me.find(Locator::Css("button"))
            .await
            .expect("send")
            .click()
            .await
            .expect("send");
        wait_text(&agent, "pre.out", "\"username\": \"wang\"").await;
        screenshot(&agent, "api-docs.png").await;

        // The conversation is in the agent's history, and its transcript opens.
        agent
            .goto(&format!(
                "{base}/console/history?contract=GDT-KF-2026-0017&lang=zh"
            ))
            .await
            .expect("history");
        wait_text(&agent, "td", "王坐席").await;
        screenshot(&agent, "console-history.png").await;
        agent
            .find(Locator::LinkText("查看"))
            .await
            .expect("open link")
            .click()
            .await
            .expect("open");
        wait_text(&agent, ".m.customer", "宽带断网").await;
        screenshot(&agent, "console-transcript.png").await;
        let _ = customer.close().await;
        let _ = agent.close().await;
        let _ = board.close().await;
    })
    .await;
    store.close().await;
}
