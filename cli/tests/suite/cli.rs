//! The `edoc-ledger` binary end to end on PostgreSQL: `migrate`, and `replay --check`
//! exiting 0 when the stored projections equal a replay, 1 with the differing row after a
//! hand alteration, and `replay` repairing it.

use std::process::Command;
use std::sync::Arc;

use aggregates::ReferenceData;
use api::application::commands::{CommandContext, Ledger, SystemClock};
use api::store::{LedgerEventRepository, StoreLocation};
use commands::AgreementCommand;
use events::ParticipantId;
use serde_json::json;

const BINARY: &str = env!("CARGO_BIN_EXE_edoc-ledger");
const OPERATOR_BIN: &str = "150240008272";

use crate::common::{drop_database, fresh_database};

fn run(args: &[&str], database_url: &str) -> (i32, String) {
    let output = Command::new(BINARY)
        .args(args)
        .env("DATABASE_URL", database_url)
        .env("EDOC_LOG", "warn")
        .output()
        .expect("edoc-ledger runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    println!(
        "edoc-ledger {}: exit {:?}\n{stdout}{}",
        args.join(" "),
        output.status.code(),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.code().expect("exited"), stdout)
}

fn command<T: serde::de::DeserializeOwned>(body: serde_json::Value) -> T {
    serde_json::from_value(body).expect("a valid command")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_check_finds_a_hand_altered_row_and_replay_repairs_it() {
    let (url, name) = fresh_database().await;
    assert_eq!(run(&["migrate"], &url).0, 0);

    let repository = LedgerEventRepository::connect(&StoreLocation::Postgres(url.clone()))
        .await
        .unwrap();
    let ledger = Ledger::new(
        repository.clone(),
        Arc::new(ReferenceData::embedded().unwrap()),
        Arc::new(SystemClock),
    );
    let id = ParticipantId::parse(OPERATOR_BIN).unwrap();
    let context = CommandContext {
        actor: "cli-test".into(),
        request_id: "cli-test".into(),
        sweep: None,
        idempotency: None,
    };
    let steps = vec![
        AgreementCommand::Register(command(json!({
            "participant_id": OPERATOR_BIN, "name": "ТОО «MITWORK»", "kind": "legal_entity",
            "resident": true, "currency": "KZT", "email": "buh@example.kz",
            "registered_on": "2026-01-05"}))),
        AgreementCommand::Sign(command(json!({"signed_on": "2026-01-06"}))),
        AgreementCommand::IssueInvoice(command(json!({
            "kind": "subscription", "issued_on": "2026-02-02",
            "lines": [{"description": "E-DOC subscription", "quantity": 1, "unit_price": "10000.00"}]}))),
        AgreementCommand::ReceivePayment(command(json!({
            "reference": "R-1", "received_on": "2026-02-05", "amount": "5000.00"}))),
    ];
    for step in steps {
        ledger.execute(&id, step, &context).await.unwrap();
    }

    let (code, stdout) = run(&["replay", "--check"], &url);
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("no difference"), "{stdout}");

    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    // The stored form is binary: alter it the way a tamperer with a decoder would.
    let stored = ledger
        .repository()
        .ledger(OPERATOR_BIN)
        .await
        .unwrap()
        .expect("a stored ledger");
    let mut json = serde_json::to_value(stored.decode().unwrap()).unwrap();
    assert_eq!(
        json["facts"][1]["fact"]["payment"]["amount"]["amount"],
        "5000.00"
    );
    json["facts"][1]["fact"]["payment"]["amount"]["amount"] = "1.00".into();
    let tampered: projections::AgreementLedger = serde_json::from_value(json).unwrap();
    let altered = sqlx::query("UPDATE agreement_ledgers SET ledger = $2 WHERE participant_id = $1")
        .bind(OPERATOR_BIN)
        .bind(tampered.to_stored().unwrap())
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(altered.rows_affected(), 1);

    let (code, stdout) = run(&["replay", "--check"], &url);
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains(&format!(
            "{OPERATOR_BIN}: ledger.facts[1].fact.payment.amount.amount: stored \"1.00\", replay gives \"5000.00\""
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains("1 difference(s) in 1 of 1 projections"),
        "{stdout}"
    );

    let (code, stdout) = run(&["replay"], &url);
    assert_eq!(code, 0, "{stdout}");
    assert!(
        stdout.contains("replayed 4 events of 1 agreements"),
        "{stdout}"
    );
    let (code, stdout) = run(&["replay", "--check"], &url);
    assert_eq!(code, 0, "{stdout}");

    // The audit commands: a digest kept in a file verifies; an altered event does not.
    let (code, digest) = run(&["digest"], &url);
    assert_eq!(code, 0, "{digest}");
    let file = std::env::temp_dir().join(format!("{name}-digest.json"));
    std::fs::write(&file, &digest).unwrap();
    let (code, stdout) = run(&["verify", "--digest", file.to_str().unwrap()], &url);
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("checked 4 events in 1 streams"), "{stdout}");
    sqlx::query(
        "UPDATE events SET payload = jsonb_set(payload, '{PaymentReceived,amount,amount}', '\"1.00\"')
         WHERE aggregate_id = $1 AND sequence = 4",
    )
    .bind(OPERATOR_BIN)
    .execute(&pool)
    .await
    .unwrap();
    let (code, stdout) = run(&["verify"], &url);
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains(&format!("BROKEN at {OPERATOR_BIN} sequence 4")),
        "{stdout}"
    );
    std::fs::remove_file(&file).ok();

    pool.close().await;
    repository.close().await;
    drop_database(&name).await;
}

/// `edoc-ledger serve --listen ADDR` (the option after the subcommand) serves on ADDR.
#[test]
fn serve_listens_where_told_after_the_subcommand() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let data = tempfile::tempdir().unwrap();
    let listen = format!("127.0.0.1:{port}");
    let mut child = Command::new(BINARY)
        .args(["serve", "--listen", &listen, "--data-dir"])
        .arg(data.path())
        .env_remove("DATABASE_URL")
        .env("EDOC_LOG", "warn")
        .spawn()
        .expect("edoc-ledger starts");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let mut healthy = false;
    while std::time::Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("edoc-ledger serve --listen {listen} exited: {status}");
        }
        if let Ok(mut stream) = std::net::TcpStream::connect(&listen) {
            use std::io::{Read, Write};
            let _ = stream.write_all(b"GET /healthz HTTP/1.0\r\nHost: x\r\n\r\n");
            let mut answer = String::new();
            let _ = stream.read_to_string(&mut answer);
            if answer.starts_with("HTTP/1.0 200") || answer.starts_with("HTTP/1.1 200") {
                healthy = true;
                break;
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(healthy, "no answer on {listen} within 30 s");
}

/// `edoc-ledger reference load FILE` publishes the versions of a table file (and the
/// National Bank's XML); loading it again records nothing; `reference list` shows them;
/// `verify` checks the reference stream's chain with the agreements'.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reference_load_publishes_a_file_once_and_list_shows_it() {
    let (url, name) = fresh_database().await;
    let dir = tempfile::tempdir().unwrap();
    let mrp = dir.path().join("mrp.toml");
    std::fs::write(
        &mrp,
        "version = \"ignored\"\nsource = \"Law on the republican budget 2027-2029\"\n[[year]]\nyear = 2027\nmrp = \"4500\"\n",
    )
    .unwrap();
    let (code, stdout) = run(&["reference", "load", mrp.to_str().unwrap()], &url);
    assert_eq!(code, 0, "{stdout}");
    assert!(
        stdout.contains("recorded mrp 2027 as kz-mrp-2027-1"),
        "{stdout}"
    );
    let (code, stdout) = run(&["reference", "load", mrp.to_str().unwrap()], &url);
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("unchanged mrp 2027"), "{stdout}");

    let rates = dir.path().join("rates.xml");
    std::fs::write(
        &rates,
        "<rates><date>04.01.2027</date><item><title>USD</title><quant>1</quant><description>520.5</description></item></rates>",
    )
    .unwrap();
    let (code, stdout) = run(&["reference", "load", rates.to_str().unwrap()], &url);
    assert_eq!(code, 0, "{stdout}");
    assert!(
        stdout.contains("recorded exchange-rates 2027-01-04"),
        "{stdout}"
    );
    let bad = dir.path().join("mrp-bad.toml");
    std::fs::write(
        &bad,
        "version = \"v\"\nsource = \"s\"\n[[year]]\nyear = 2027\nmrp = \"-4500\"\n",
    )
    .unwrap();
    let (code, _) = run(
        &["reference", "load", bad.to_str().unwrap(), "--table", "mrp"],
        &url,
    );
    assert_eq!(code, 2, "a negative MRP is refused");

    let (code, stdout) = run(&["reference", "list", "--table", "mrp"], &url);
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("kz-mrp-2027-1"), "{stdout}");
    assert!(
        stdout.contains("kz-mrp-2026-1"),
        "the shipped versions: {stdout}"
    );
    assert!(!stdout.contains("calendar:"), "{stdout}");

    let (code, stdout) = run(&["verify"], &url);
    assert_eq!(code, 0, "{stdout}");
    // The shipped 2025-2027 calendar, 2023-2026 MRP and two VAT rates, and the two
    // loaded here: one stream.
    assert!(
        stdout.contains("checked 11 events in 1 streams"),
        "{stdout}"
    );
    drop_database(&name).await;
}
