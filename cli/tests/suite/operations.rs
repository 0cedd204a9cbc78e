//! The binary's operational behaviour on the embedded store (issue 6): tokens made,
//! listed and revoked on the command line; the first start's operator token written
//! owner-only; SIGTERM under load finishes what is in flight and loses nothing that was
//! acknowledged.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::json;

const BINARY: &str = env!("CARGO_BIN_EXE_edoc-ledger");

use crate::common;

fn run(data_dir: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    let output = Command::new(BINARY)
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env("EDOC_LOG", "warn")
        .env_remove("DATABASE_URL")
        .output()
        .expect("edoc-ledger runs");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Starts `edoc-ledger serve` on a free port; returns it, its address and the lines it
/// printed at start (two on the store's first start, one after).
fn serve(data_dir: &std::path::Path, first_start: bool) -> (Child, String, Vec<String>) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new(BINARY)
        .arg("--data-dir")
        .arg(data_dir)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .env("EDOC_LOG", "warn")
        .env_remove("DATABASE_URL")
        .stdout(Stdio::piped())
        .spawn()
        .expect("edoc-ledger serves");
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut lines = Vec::new();
    for _ in 0..if first_start { 2 } else { 1 } {
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        lines.push(line);
    }
    std::thread::spawn(move || for _ in stdout.lines() {});
    (child, format!("http://127.0.0.1:{port}"), lines)
}

#[test]
fn tokens_are_made_listed_and_revoked_on_the_command_line() {
    let data = tempfile::tempdir().unwrap();
    let (code, token, stderr) = run(
        data.path(),
        &[
            "token",
            "create",
            "--role",
            "auditor",
            "--name",
            "Audit firm",
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    let token = token.trim();
    assert!(token.starts_with("edoc_") && token.len() > 70, "{token}");
    let id = token.split('_').nth(1).unwrap();

    let (code, _, stderr) = run(
        data.path(),
        &["token", "create", "--role", "participant", "--name", "p"],
    );
    assert_eq!(code, 2, "a participant token needs its agreement");
    assert!(stderr.contains("--participant"), "{stderr}");

    let (code, list, _) = run(data.path(), &["token", "list"]);
    assert_eq!(code, 0);
    assert!(
        list.contains(id) && list.contains("auditor") && list.contains("Audit firm"),
        "{list}"
    );
    assert!(!list.contains(token), "a listing never shows a secret");

    let (code, revoked, _) = run(data.path(), &["token", "revoke", id]);
    assert_eq!(code, 0);
    assert!(revoked.contains("REVOKED"), "{revoked}");
    let (code, _, stderr) = run(data.path(), &["token", "revoke", "nobody"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("no token"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_under_load_finishes_in_flight_requests_and_loses_nothing_acknowledged() {
    let data = tempfile::tempdir().unwrap();
    let (mut child, base, lines) = serve(data.path(), true);
    // The first start made an operator token, owner-only, and said where.
    let token_file = data.path().join("operator-token");
    assert!(
        lines.iter().any(|l| l.contains("operator-token")),
        "{lines:?}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&token_file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the token file is readable by its owner only");
    }
    let token = std::fs::read_to_string(&token_file)
        .unwrap()
        .trim()
        .to_owned();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    common::wait_until_serving(
        &client,
        &base,
        Duration::from_secs(20),
        "the server did not start",
    )
    .await;

    // 60 registrations in flight; SIGTERM part-way.
    let ids = common::participant_ids(40_000_000_000, 60);
    let mut requests = Vec::new();
    for id in &ids {
        let (client, base, token, id) = (client.clone(), base.clone(), token.clone(), id.clone());
        requests.push(tokio::spawn(async move {
            let body = json!({"participant_id": id, "name": "ТОО «Участник»", "kind": "legal_entity",
                "resident": true, "currency": "KZT", "email": "buh@example.kz", "registered_on": "2026-01-05"});
            let answer = client
                .post(format!("{base}/v1/agreements"))
                .bearer_auth(&token)
                .json(&body)
                .send()
                .await;
            (id, answer.map(|r| r.status().as_u16()).ok())
        }));
    }
    tokio::time::sleep(Duration::from_millis(5)).await;
    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let mut acknowledged = Vec::new();
    for request in requests {
        let (id, status) = request.await.unwrap();
        if status == Some(201) {
            acknowledged.push(id);
        }
    }
    let exit = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    assert!(exit.success(), "SIGTERM ends the server cleanly: {exit:?}");

    // Started again: every acknowledged registration is there, once.
    let (mut child, base, _) = serve(data.path(), false);
    common::wait_until_serving(
        &client,
        &base,
        Duration::from_secs(20),
        "the server did not start again",
    )
    .await;
    for id in &acknowledged {
        let events = common::get_json(
            &client,
            &format!("{base}/v1/agreements/{id}/events"),
            &token,
        )
        .await;
        assert_eq!(events.as_array().map(Vec::len), Some(1), "{id}: {events}");
    }
    let pid = child.id().to_string();
    Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    child.wait().unwrap();
    let (code, verified, _) = run(data.path(), &["verify"]);
    assert_eq!(code, 0, "{verified}");
    println!(
        "{} of {} registrations acknowledged before SIGTERM",
        acknowledged.len(),
        ids.len()
    );
}
