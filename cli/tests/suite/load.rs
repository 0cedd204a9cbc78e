//! `edoc-ledger load` against a running `edoc-ledger serve` (PostgreSQL), briefly: the
//! mixed load of payments, usage invoices and reads gets only 2xx answers, and the
//! program says so with exit status 0 (docs/performance.md runs it for 60 s).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{drop_database, fresh_database};

const BINARY: &str = env!("CARGO_BIN_EXE_edoc-ledger");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_mixed_load_gets_only_2xx() {
    let (url, name) = fresh_database().await;
    let token = Command::new(BINARY)
        .args([
            "token",
            "create",
            "--role",
            "operator",
            "--name",
            "load-test",
        ])
        .env("DATABASE_URL", &url)
        .output()
        .unwrap();
    assert!(token.status.success(), "{token:?}");
    let token = String::from_utf8_lossy(&token.stdout)
        .lines()
        .next()
        .unwrap()
        .trim()
        .to_owned();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut server = Command::new(BINARY)
        .args(["--listen", &format!("127.0.0.1:{port}"), "serve"])
        .env("DATABASE_URL", &url)
        .env("EDOC_LOG", "error")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    while reqwest::get(format!("{base}/healthz")).await.is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the server did not start"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let load = Command::new(BINARY)
        .args([
            "load",
            "--url",
            &base,
            "--agreements",
            "20",
            "--clients",
            "4",
            "--seconds",
            "3",
        ])
        .env("EDOC_TOKEN", &token)
        .output()
        .unwrap();
    let _ = server.kill();
    let _ = server.wait();
    let printed = String::from_utf8_lossy(&load.stdout);
    println!("{printed}");
    assert!(
        load.status.success(),
        "{printed}\n{}",
        String::from_utf8_lossy(&load.stderr)
    );
    assert!(
        printed.contains("requests/s") && printed.contains("non-2xx: 0"),
        "{printed}"
    );
    drop_database(&name).await;
}
