//! The `edoc-ledger` binary end to end on PostgreSQL: `migrate`, and `replay --check`
//! exiting 0 when the stored projections equal a replay, 1 with the differing row after a
//! hand alteration, and `replay` repairing it.

use std::process::Command;
use std::sync::Arc;

use aggregates::ReferenceData;
use api::ledger::{CommandContext, Ledger, SystemClock};
use api::store::{LedgerEventRepository, StoreLocation};
use commands::AgreementCommand;
use events::ParticipantId;
use serde_json::json;

const BINARY: &str = env!("CARGO_BIN_EXE_edoc-ledger");
const OPERATOR_BIN: &str = "150240008272";

mod common;
use common::{drop_database, fresh_database};

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
    assert!(
        stdout.contains("checked 4 events of 1 agreements"),
        "{stdout}"
    );
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
