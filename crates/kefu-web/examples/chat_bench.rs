//! The chat benchmark of issue 4: N concurrent conversations (2 WebSockets each) on a running
//! `kefu serve`, every message persisted before its ack, against a bare WebSocket relay that
//! persists nothing (the floor), in one run. Reports throughput, p50/p99 customer→agent
//! latency, and the server's memory per idle connection.
//!
//! cargo run --release -p kefu-web --example chat_bench -- \
//!     --db sqlite://DIR/kefu.db --data-dir DIR --kefu ADDR --pid PID [--conversations 2000]
//! (scripts/bench/chat.sh starts the server and runs this.)

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use kefu_store::{NewContractVersion, Store, VersionKind};
use tokio::sync::Mutex;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

const CONTRACT: &str = "HT-BENCH";

struct Opts {
    db: String,
    data_dir: String,
    kefu: String,
    pid: u32,
    conversations: usize,
    messages: usize,
    interval: Duration,
}

fn opts() -> Opts {
    let mut o = Opts {
        db: String::new(),
        data_dir: String::new(),
        kefu: String::new(),
        pid: 0,
        conversations: 2000,
        messages: 10,
        interval: Duration::from_millis(2000),
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i + 1 < args.len() {
        let v = args[i + 1].clone();
        match args[i].as_str() {
            "--db" => o.db = v,
            "--data-dir" => o.data_dir = v,
            "--kefu" => o.kefu = v,
            "--pid" => o.pid = v.parse().unwrap_or(0),
            "--conversations" => o.conversations = v.parse().unwrap_or(2000),
            "--messages" => o.messages = v.parse().unwrap_or(10),
            "--interval-ms" => o.interval = Duration::from_millis(v.parse().unwrap_or(2000)),
            other => eprintln!("unknown option {other}"),
        }
        i += 2;
    }
    o
}

fn rss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

fn now_us(t0: Instant) -> u64 {
    t0.elapsed().as_micros() as u64
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn ws(url: &str, bearer: Option<&str>) -> Ws {
    let mut req = url.into_client_request().expect("request");
    if let Some(t) = bearer {
        req.headers_mut().insert(
            "Authorization",
            format!("Bearer {t}").parse().expect("header"),
        );
    }
    loop {
        match tokio_tungstenite::connect_async(req.clone()).await {
            Ok((s, _)) => return s,
            Err(e) => {
                eprintln!("connect {url}: {e}; retrying");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
}

async fn text(w: &mut Ws) -> Option<serde_json::Value> {
    loop {
        match w.next().await? {
            Ok(Message::Text(t)) => return serde_json::from_str(&t).ok(),
            Ok(_) => continue,
            Err(_) => return None,
        }
    }
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i] as f64 / 1000.0
}

/// Drives `n` customer/agent pairs: customers send `messages` each, every `interval`, with
/// their send time in the text; agents measure when each arrives.
async fn drive(
    customer_url: Arc<dyn Fn(usize) -> String + Send + Sync>,
    agent_url: Arc<dyn Fn(usize) -> String + Send + Sync>,
    tokens: Vec<Option<String>>,
    start_frame: Option<String>,
    o: &Opts,
) -> (Vec<u64>, f64, usize) {
    let t0 = Instant::now();
    let latencies = Arc::new(Mutex::new(Vec::with_capacity(o.conversations * o.messages)));
    // Agents first (kefu routes waiting conversations to them as customers arrive).
    let mut agents = Vec::new();
    for (i, token) in tokens.iter().enumerate().take(o.conversations) {
        agents.push(ws(&agent_url(i), token.as_deref()).await);
    }
    let mut customers = Vec::new();
    for i in 0..o.conversations {
        let mut c = ws(&customer_url(i), None).await;
        if let Some(f) = &start_frame {
            c.send(Message::Text(f.clone().into()))
                .await
                .expect("start");
        }
        customers.push(c);
    }
    let expected = o.conversations * o.messages;
    // kefu hands each waiting conversation to an agent; the clock starts when every agent has
    // its conversation (the steady state of 2,000 conversations under way), and how long the
    // routing took is reported apart.
    let assigned = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let routing_started = Instant::now();
    let mut agent_tasks = Vec::new();
    for mut a in agents {
        let lat = latencies.clone();
        let m = o.messages;
        let assigned = assigned.clone();
        agent_tasks.push(tokio::spawn(async move {
            let mut got = 0;
            while got < m {
                let Some(v) = text(&mut a).await else { break };
                if v["type"] == "assigned" {
                    assigned.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
                if v["type"] == "message" && v["from"] == "customer" {
                    if let Some(sent) = v["text"]
                        .as_str()
                        .and_then(|t| t.split(':').next())
                        .and_then(|s| s.parse::<u64>().ok())
                    {
                        lat.lock().await.push(now_us(t0).saturating_sub(sent));
                    }
                    got += 1;
                }
            }
            a
        }));
    }
    if start_frame.is_some() {
        let deadline = Instant::now() + Duration::from_secs(120);
        while assigned.load(std::sync::atomic::Ordering::Relaxed) < o.conversations
            && Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        eprintln!(
            "{} of {} conversations routed to agents in {:.2} s (after the last customer connected)",
            assigned.load(std::sync::atomic::Ordering::Relaxed),
            o.conversations,
            routing_started.elapsed().as_secs_f64()
        );
    }
    let started = Instant::now();
    let mut customer_tasks = Vec::new();
    for (i, mut c) in customers.into_iter().enumerate() {
        let m = o.messages;
        let interval = o.interval;
        // Spread the sends over the interval.
        let offset = interval.mul_f64(i as f64 / o.conversations as f64);
        customer_tasks.push(tokio::spawn(async move {
            tokio::time::sleep(offset).await;
            let mut ticker = tokio::time::interval(interval);
            for k in 0..m {
                ticker.tick().await;
                let frame = serde_json::json!({"type": "send", "id": format!("b{k}"), "text": format!("{}:hello {k}", now_us(t0))});
                if c.send(Message::Text(frame.to_string().into())).await.is_err() {
                    break;
                }
            }
            // Keep reading (acks) until the agents are done.
            let _ = tokio::time::timeout(Duration::from_secs(5), async { while text(&mut c).await.is_some() {} }).await;
        }));
    }
    for t in agent_tasks {
        let _ = tokio::time::timeout(Duration::from_secs(120), t).await;
    }
    let secs = started.elapsed().as_secs_f64();
    for t in customer_tasks {
        t.abort();
    }
    let mut l = latencies.lock().await.clone();
    l.sort_unstable();
    let delivered = l.len();
    eprintln!("delivered {delivered} of {expected}");
    (l, secs, delivered)
}

/// A WebSocket relay that persists nothing: customer i's messages go to agent i.
async fn relay() -> String {
    use axum::extract::ws::{Message as AMsg, WebSocketUpgrade};
    use axum::extract::{Path, State};
    type Hub = Arc<std::sync::Mutex<HashMap<usize, tokio::sync::mpsc::UnboundedSender<String>>>>;
    let hub: Hub = Arc::default();
    let app = axum::Router::new()
        .route(
            "/agent/{i}",
            axum::routing::get(|Path(i): Path<usize>, State(hub): State<Hub>, ws: WebSocketUpgrade| async move {
                ws.on_upgrade(move |mut s| async move {
                    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
                    if let Ok(mut h) = hub.lock() {
                        h.insert(i, tx);
                    }
                    while let Some(t) = rx.recv().await {
                        if s.send(AMsg::Text(t.into())).await.is_err() {
                            break;
                        }
                    }
                })
            }),
        )
        .route(
            "/customer/{i}",
            axum::routing::get(|Path(i): Path<usize>, State(hub): State<Hub>, ws: WebSocketUpgrade| async move {
                ws.on_upgrade(move |mut s| async move {
                    while let Some(Ok(AMsg::Text(t))) = s.recv().await {
                        let v: serde_json::Value = serde_json::from_str(&t).unwrap_or_default();
                        let out = serde_json::json!({"type": "message", "from": "customer", "text": v["text"]}).to_string();
                        let _ = s.send(AMsg::Text(serde_json::json!({"type": "ack"}).to_string().into())).await;
                        let tx = hub.lock().ok().and_then(|h| h.get(&i).cloned());
                        if let Some(tx) = tx {
                            let _ = tx.send(out);
                        }
                    }
                })
            }),
        )
        .with_state(hub);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind relay");
    let addr = listener.local_addr().expect("addr").to_string();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    addr
}

#[tokio::main]
async fn main() {
    let o = opts();
    let store = Store::open(&o.db, std::path::Path::new(&o.data_dir))
        .await
        .expect("store");
    store
        .save_contract(
            CONTRACT,
            "benchmark",
            &[NewContractVersion {
                kind: VersionKind::Base,
                label: "base".to_owned(),
                effective_from: jiff::civil::date(2026, 1, 1),
                document: "kefu = 1".to_owned(),
                source_path: None,
                amendment_number: None,
            }],
            "bench",
        )
        .await
        .expect("contract");
    // One agent per conversation, on duty for chat, each with an API token. (Accounts are
    // made with a shortcut password hash: argon2 for 2,000 accounts is not what is measured.)
    let mut tokens = Vec::with_capacity(o.conversations);
    for i in 0..o.conversations {
        let a = store
            .create_bench_agent(&format!("bench-agent-{i}"))
            .await
            .expect("agent");
        store
            .set_duty(a, kefu_store::Channel::Chat, true, None)
            .await
            .expect("duty");
        tokens.push(Some(
            store.create_api_token(a, "bench").await.expect("token"),
        ));
    }
    let idle_before = rss_kb(o.pid);

    let kefu = o.kefu.clone();
    let k2 = o.kefu.clone();
    let start = serde_json::json!({"type": "start", "contract": CONTRACT}).to_string();
    let (kl, ksecs, kn) = drive(
        Arc::new(move |_| format!("ws://{k2}/chat/ws")),
        Arc::new(move |_| format!("ws://{kefu}/api/v1/chat/ws")),
        tokens,
        Some(start),
        &o,
    )
    .await;
    let idle_after = rss_kb(o.pid);

    let relay_addr = relay().await;
    let (ra, rb) = (relay_addr.clone(), relay_addr.clone());
    let (rl, rsecs, rn) = drive(
        Arc::new(move |i| format!("ws://{ra}/customer/{i}")),
        Arc::new(move |i| format!("ws://{rb}/agent/{i}")),
        vec![None; o.conversations],
        None,
        &o,
    )
    .await;

    let sockets = o.conversations * 2;
    println!(
        "conversations {} ({} WebSockets), {} messages each every {:?}",
        o.conversations, sockets, o.messages, o.interval
    );
    println!(
        "kefu  : {kn} delivered in {ksecs:.1} s = {:.0} msg/s; customer->agent latency p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        kn as f64 / ksecs,
        percentile(&kl, 0.50),
        percentile(&kl, 0.99),
        percentile(&kl, 1.0)
    );
    println!(
        "relay : {rn} delivered in {rsecs:.1} s = {:.0} msg/s; customer->agent latency p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        rn as f64 / rsecs,
        percentile(&rl, 0.50),
        percentile(&rl, 0.99),
        percentile(&rl, 1.0)
    );
    println!(
        "p99 ratio kefu/relay: {:.2} (target <= 2)",
        percentile(&kl, 0.99) / percentile(&rl, 0.99)
    );
    println!(
        "kefu RSS: {} KB before the connections, {} KB with them open: {:.1} KB per WebSocket",
        idle_before,
        idle_after,
        (idle_after.saturating_sub(idle_before)) as f64 / sockets as f64
    );
}
