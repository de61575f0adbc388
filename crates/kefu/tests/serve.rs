//! `kefu serve` as a person starts it: zero configuration on first start (database, key and
//! an administrator with a one-time password printed once), health over HTTP, a clean stop on
//! SIGTERM, and configuration mistakes refused with the key named.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn temp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"))
}

fn kefu(args: &[&str], cwd: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_kefu"));
    c.args(args)
        .current_dir(cwd)
        .env_remove("KEFU_DATABASE_URL")
        .env_remove("KEFU_DATA_DIR")
        .env_remove("KEFU_LISTEN")
        .env_remove("KEFU_LOG_FORMAT");
    c
}

/// A running `kefu serve` and the lines it printed up to "listening on".
struct Running {
    child: Child,
    printed: Vec<String>,
    addr: String,
}

fn start(dir: &Path) -> Running {
    let mut child = kefu(&["serve", "--listen", "127.0.0.1:0"], dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start kefu serve: {e}"));
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let mut printed = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    let addr = loop {
        assert!(
            Instant::now() < deadline,
            "no 'listening on' line: {printed:?}"
        );
        let Some(Ok(line)) = lines.next() else {
            panic!("kefu serve ended early: {printed:?}");
        };
        printed.push(line.clone());
        if let Some(rest) = line.split("listening on http://").nth(1) {
            break rest.split_whitespace().next().expect("address").to_owned();
        }
    };
    // Keep draining stdout so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Running {
        child,
        printed,
        addr,
    }
}

fn http_get(addr: &str, path: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    let _ = write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    );
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

/// Sends SIGTERM and waits for the exit status.
fn stop(mut r: Running) -> std::process::ExitStatus {
    let pid = r.child.id().to_string();
    let killed = Command::new("kill").args(["-TERM", &pid]).status();
    assert!(killed.is_ok_and(|s| s.success()), "kill -TERM {pid}");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(Some(status)) = r.child.try_wait() {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "kefu serve did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_first_start_needs_no_configuration_and_prints_the_admin_password_once() {
    let dir = temp();
    let first = start(dir.path());
    let text = first.printed.join("\n");
    assert!(text.contains("created the administrator account"), "{text}");
    let password_line = first
        .printed
        .iter()
        .find(|l| l.trim_start().starts_with("password:"))
        .expect("the one-time password is printed");
    assert!(password_line.contains("shown once"));
    let health = http_get(&first.addr, "/healthz");
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    assert!(health.contains("\"database\":\"ok\""), "{health}");
    assert!(dir.path().join("data/kefu.db").exists());
    assert!(dir.path().join("data/kefu.key").exists());
    let status = stop(first);
    assert!(status.success(), "a clean stop on SIGTERM: {status:?}");

    let second = start(dir.path());
    let text = second.printed.join("\n");
    assert!(
        !text.contains("password"),
        "the password is never printed again: {text}"
    );
    assert!(stop(second).success());
}

#[test]
fn configuration_mistakes_are_refused_with_the_key_named() {
    let dir = temp();
    std::fs::write(
        dir.path().join("kefu.toml"),
        "listen = \"127.0.0.1:0\"\nlisten_port = 80\n",
    )
    .expect("write kefu.toml");
    let o = kefu(&["serve"], dir.path()).output().expect("run");
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("listen_port") && err.contains("kefu.toml"),
        "{err}"
    );

    let o = kefu(&["serve", "--config", "nope.toml"], dir.path())
        .output()
        .expect("run");
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("nope.toml"));
    assert!(
        !dir.path().join("data").exists(),
        "nothing is created when the config is wrong"
    );
}
