//! `edoc-ledger statement import FILE` (INTEGRATION.md 2) on the embedded SQLite store:
//! the summary printed, the payment recorded, the same file again recording nothing, a
//! bad file refused with exit status 2 and nothing recorded.

use std::process::Command;
use std::sync::Arc;

use aggregates::ReferenceData;
use api::application::commands::{CommandContext, Ledger, SystemClock};
use api::store::{LedgerEventRepository, StoreLocation};
use commands::AgreementCommand;
use events::ParticipantId;
use serde_json::json;

const BINARY: &str = env!("CARGO_BIN_EXE_edoc-ledger");
const CAMT_08: &str =
    include_str!("../../../api/src/application/statements/fixtures/camt053_001_08.xml");
const ROMASHKA: &str = "120340001230";

fn run(args: &[&str], database_url: &str) -> (i32, String) {
    let output = Command::new(BINARY)
        .args(args)
        .env("DATABASE_URL", database_url)
        .env("EDOC_LOG", "warn")
        .output()
        .expect("edoc-ledger runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    println!(
        "edoc-ledger {}: exit {:?}\n{stdout}{stderr}",
        args.join(" "),
        output.status.code()
    );
    (
        output.status.code().expect("exited"),
        format!("{stdout}{stderr}"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_statement_is_imported_from_the_command_line_once() {
    let directory = tempfile::tempdir().unwrap();
    let database = directory.path().join("ledger.db");
    let url = format!("sqlite:{}", database.display());
    assert_eq!(run(&["migrate"], &url).0, 0);
    let repository = LedgerEventRepository::connect(&StoreLocation::Sqlite(database.clone()))
        .await
        .unwrap();
    let ledger = Ledger::new(
        repository.clone(),
        Arc::new(ReferenceData::embedded().unwrap()),
        Arc::new(SystemClock),
    );
    let id = ParticipantId::parse(ROMASHKA).unwrap();
    let context = CommandContext {
        actor: "cli-test".into(),
        request_id: "cli-test".into(),
        sweep: None,
        idempotency: None,
    };
    let register: commands::Register = serde_json::from_value(json!({
        "participant_id": ROMASHKA, "name": "ТОО «Ромашка»", "kind": "legal_entity",
        "resident": true, "currency": "KZT", "email": "buh@romashka.kz",
        "registered_on": "2026-01-05"}))
    .unwrap();
    ledger
        .execute(&id, AgreementCommand::Register(register), &context)
        .await
        .unwrap();
    let sign: commands::SignAgreement =
        serde_json::from_value(json!({"signed_on": "2026-01-06"})).unwrap();
    ledger
        .execute(&id, AgreementCommand::Sign(sign), &context)
        .await
        .unwrap();
    repository.close().await;

    let file = directory.path().join("statement.xml");
    std::fs::write(&file, CAMT_08).unwrap();
    let file = file.to_str().unwrap();
    let (code, output) = run(&["statement", "import", file], &url);
    assert_eq!(code, 0, "{output}");
    assert!(output.contains("imported"), "{output}");
    assert!(
        output.contains("4 lines, 1 matched, 0 duplicates, 2 unmatched, 1 not credits"),
        "{output}"
    );
    assert!(output.contains("matched 125000.00"), "{output}");

    let (code, output) = run(&["statement", "import", file], &url);
    assert_eq!(code, 0, "{output}");
    assert!(
        output.contains("loaded before: nothing recorded"),
        "{output}"
    );

    let bad = directory.path().join("bad.xml");
    std::fs::write(&bad, &CAMT_08[..CAMT_08.len() / 2]).unwrap();
    let (code, output) = run(&["statement", "import", bad.to_str().unwrap()], &url);
    assert_eq!(code, 2, "{output}");
    assert!(output.contains("nothing was recorded"), "{output}");

    let repository = LedgerEventRepository::connect(&StoreLocation::Sqlite(database))
        .await
        .unwrap();
    let events = repository
        .stored_events("ParticipantAgreement", ROMASHKA)
        .await
        .unwrap();
    let payments = events
        .iter()
        .filter(|e| e.event_type == "PaymentReceived")
        .count();
    assert_eq!(payments, 1, "recorded once");
    repository.close().await;
}
