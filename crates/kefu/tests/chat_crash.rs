//! Killing `kefu serve` with SIGKILL while customers are chatting, then starting it again,
//! loses no message that was acknowledged, on SQLite and PostgreSQL: an `ack` is only sent
//! once the message is committed.

#[path = "../../kefu-store/tests/common/mod.rs"]
mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use kefu_store::chat::Sender;
use tokio_tungstenite::tungstenite::Message;

/// Starts `kefu serve` on a free port; returns the child and its address.
fn serve(url: &str, data_dir: &std::path::Path, cwd: &std::path::Path) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kefu"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--db",
            url,
            "--data-dir",
        ])
        .arg(data_dir)
        .current_dir(cwd)
        .env_remove("KEFU_DATABASE_URL")
        .env_remove("KEFU_DATA_DIR")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start kefu serve");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let deadline = Instant::now() + Duration::from_secs(30);
    let addr = loop {
        assert!(
            Instant::now() < deadline,
            "kefu serve did not say where it listens"
        );
        let line = lines.next().expect("kefu serve ended early").expect("line");
        if let Some(rest) = line.split("listening on http://").nth(1) {
            break rest.split_whitespace().next().expect("address").to_owned();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    (child, addr)
}

/// (conversation, seq, text) of every acknowledged message.
type Acked = Arc<Mutex<Vec<(String, i64, String)>>>;

/// One customer sending messages one after another (each waits for its ack) until the
/// connection breaks.
async fn customer(addr: String, n: usize, acked: Acked) {
    let Ok((mut ws, _)) = tokio_tungstenite::connect_async(format!("ws://{addr}/chat/ws")).await
    else {
        return;
    };
    let start = serde_json::json!({"type": "start", "contract": "HT-CRASH"}).to_string();
    if ws.send(Message::Text(start.into())).await.is_err() {
        return;
    }
    let mut conversation = None;
    let mut i = 0;
    loop {
        let Some(Ok(Message::Text(t))) = ws.next().await else {
            return;
        };
        let Ok(v) = serde_json::from_str::<serde_json::Value>(&t) else {
            return;
        };
        match v["type"].as_str() {
            Some("welcome") => conversation = v["conversation"].as_str().map(str::to_owned),
            Some("ack") => {
                let (Some(conv), Some(seq)) = (&conversation, v["seq"].as_i64()) else {
                    return;
                };
                if let Ok(mut a) = acked.lock() {
                    a.push((conv.clone(), seq, format!("client {n} message {}", i - 1)));
                }
            }
            _ => continue,
        }
        let text = format!("client {n} message {i}");
        let frame = serde_json::json!({"type": "send", "id": format!("m{i}"), "text": text});
        if ws
            .send(Message::Text(frame.to_string().into()))
            .await
            .is_err()
        {
            return;
        }
        i += 1;
    }
}

#[tokio::test]
async fn a_killed_server_loses_no_acknowledged_chat_message() {
    for env in common::test_envs().await {
        eprintln!("--- story on {}", env.label);
        {
            let store = env.open_ok().await;
            common::placeholder_contract(&store, "HT-CRASH").await;
            store.close().await;
        }
        let cwd = tempfile::tempdir().expect("cwd");
        let (mut server, addr) = serve(&env.url, env.data_dir.path(), cwd.path());
        let acked: Acked = Arc::default();
        let clients: Vec<_> = (0..20)
            .map(|n| tokio::spawn(customer(addr.clone(), n, acked.clone())))
            .collect();
        // Let the load run, then kill the server mid-stream.
        let deadline = Instant::now() + Duration::from_secs(20);
        while acked.lock().map(|a| a.len()).unwrap_or(0) < 300 {
            assert!(Instant::now() < deadline, "the load never got going");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let killed = Command::new("kill")
            .args(["-KILL", &server.id().to_string()])
            .status();
        assert!(killed.is_ok_and(|s| s.success()));
        let _ = server.wait();
        for c in clients {
            let _ = tokio::time::timeout(Duration::from_secs(10), c).await;
        }
        let acked = acked.lock().map(|a| a.clone()).unwrap_or_default();
        assert!(acked.len() >= 300, "{} acks", acked.len());

        // Started again on the same data: healthy, and every acknowledged message is there.
        let (mut again, addr2) = serve(&env.url, env.data_dir.path(), cwd.path());
        let health = std::net::TcpStream::connect(&addr2).is_ok();
        assert!(health, "the restarted server listens");
        let store = env.open_ok().await;
        let mut stored = std::collections::HashMap::new();
        let mut total = 0usize;
        for (conv, _, _) in &acked {
            if stored.contains_key(conv) {
                continue;
            }
            let msgs = store.messages_after(conv, 0).await.expect("messages");
            total += msgs.len();
            stored.insert(conv.clone(), msgs);
        }
        for (conv, seq, text) in &acked {
            let found = stored[conv]
                .iter()
                .find(|m| m.seq == *seq)
                .unwrap_or_else(|| panic!("acknowledged message {conv}#{seq} is lost"));
            assert_eq!((&found.text, found.sender), (text, Sender::Customer));
        }
        // Unacknowledged ones may or may not have been stored; none is stored twice.
        assert!(total >= acked.len());
        eprintln!(
            "[{}] {} acknowledged, {} stored, none lost",
            env.label,
            acked.len(),
            total
        );
        store.close().await;
        let _ = again.kill();
        let _ = again.wait();
    }
}
