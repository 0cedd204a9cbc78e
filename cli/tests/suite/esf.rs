//! `edoc-ledger esf export --from --to DIR` (BILLING.md 6) on the embedded SQLite store:
//! refused without the operator's details (nothing written); then one file per invoice
//! issued in the range, recorded as produced once; exported again, the same document;
//! the auditor's export carries the log of what was produced and when, and an import
//! restores it.

use std::process::Command;
use std::sync::Arc;

use aggregates::ReferenceData;
use api::application::commands::{CommandContext, Ledger, SystemClock};
use api::store::{LedgerEventRepository, StoreLocation};
use commands::AgreementCommand;
use events::ParticipantId;
use serde_json::json;

const BINARY: &str = env!("CARGO_BIN_EXE_edoc-ledger");
const ROMASHKA: &str = "120340001230";

const OPERATOR: [(&str, &str); 6] = [
    ("EDOC_OPERATOR_BIN", "050140000656"),
    ("EDOC_OPERATOR_NAME", "ТОО «Оператор E-DOC»"),
    ("EDOC_OPERATOR_ADDRESS", "г. Астана, пр. Мангилик Ел, 55"),
    ("EDOC_OPERATOR_IIK", "KZ926010131000112233"),
    ("EDOC_OPERATOR_BIK", "HSBKKZKX"),
    ("EDOC_OPERATOR_KBE", "17"),
];

fn run(args: &[&str], database_url: &str, operator: bool) -> (i32, String) {
    let mut command = Command::new(BINARY);
    command
        .args(args)
        .env("DATABASE_URL", database_url)
        .env("EDOC_LOG", "warn");
    for (name, _) in OPERATOR {
        command.env_remove(name);
    }
    if operator {
        command.envs(OPERATOR);
    }
    let output = command.output().expect("edoc-ledger runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    println!(
        "edoc-ledger {}: {:?}\n{text}",
        args.join(" "),
        output.status.code()
    );
    (output.status.code().expect("exited"), text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invoices_of_a_range_are_exported_as_esf_and_recorded_once() {
    let directory = tempfile::tempdir().unwrap();
    let database = directory.path().join("ledger.db");
    let url = format!("sqlite:{}", database.display());
    assert_eq!(run(&["migrate"], &url, false).0, 0);
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
    let sign: commands::SignAgreement =
        serde_json::from_value(json!({"signed_on": "2026-01-06"})).unwrap();
    let invoice = |issued_on: &str, from: &str, to: &str| -> commands::IssueInvoice {
        serde_json::from_value(json!({"kind": "subscription", "issued_on": issued_on,
            "lines": [{"description": "E-DOC subscription", "quantity": 1, "unit_price": "10000.00"}],
            "period": {"from": from, "to": to}}))
        .unwrap()
    };
    let commands = [
        AgreementCommand::Register(register),
        AgreementCommand::Sign(sign),
        AgreementCommand::IssueInvoice(invoice("2026-02-02", "2026-02-01", "2026-02-28")),
        AgreementCommand::IssueInvoice(invoice("2026-03-02", "2026-03-01", "2026-03-31")),
    ];
    for command in commands {
        ledger.execute(&id, command, &context).await.unwrap();
    }
    repository.close().await;

    let out = directory.path().join("esf");
    let out_text = out.to_str().unwrap();
    let export = [
        "esf",
        "export",
        "--from",
        "2026-02-01",
        "--to",
        "2026-02-28",
        out_text,
    ];
    let (code, output) = run(&export, &url, false);
    assert_eq!(code, 2, "{output}");
    assert!(output.contains("EDOC_OPERATOR_BIN"), "{output}");
    assert!(!out.exists(), "nothing written");

    let (code, output) = run(&export, &url, true);
    assert_eq!(code, 0, "{output}");
    assert!(output.contains("1 ESF documents"), "{output}");
    assert!(
        output.contains("(1 produced for the first time)"),
        "{output}"
    );
    let file = out.join(format!("{ROMASHKA}-1.xml"));
    let xml = std::fs::read_to_string(&file).unwrap();
    assert!(
        xml.contains("<invoiceType>ORDINARY_INVOICE</invoiceType>"),
        "{xml}"
    );
    assert!(
        xml.contains("<turnoverDate>28.02.2026</turnoverDate>"),
        "{xml}"
    );
    assert!(xml.contains("<tin>050140000656</tin>"), "{xml}");
    assert!(
        xml.contains("<totalPriceWithTax>11600.00</totalPriceWithTax>"),
        "{xml}"
    );
    assert!(
        !out.join(format!("{ROMASHKA}-2.xml")).exists(),
        "March is not in the range"
    );

    let (code, output) = run(&export, &url, true);
    assert_eq!(code, 0, "{output}");
    assert!(
        output.contains("(0 produced for the first time)"),
        "{output}"
    );
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        xml,
        "the same document"
    );

    let repository = LedgerEventRepository::connect(&StoreLocation::Sqlite(database))
        .await
        .unwrap();
    let produced = repository.esf_produced().await.unwrap();
    assert_eq!(produced.len(), 1, "{produced:?}");
    assert_eq!(produced[0].participant_id, ROMASHKA);
    assert_eq!(produced[0].number, 1);
    assert_eq!(produced[0].turnover_date, "2026-02-28");
    assert_eq!(
        produced[0].digest,
        api::application::statements::import::digest_of(xml.as_bytes())
    );
    assert!(produced[0].produced_at.ends_with('Z'));
    repository.close().await;

    // The auditor's export lists the document produced and when (issue 18 point 4); it
    // verifies, and an import into an empty store restores the log as it was.
    let file = directory.path().join("export.jsonl");
    let (code, output) = run(&["export", "--out", file.to_str().unwrap()], &url, false);
    assert_eq!(code, 0, "{output}");
    assert!(output.contains("and 1 ESF documents produced"), "{output}");
    let text = std::fs::read_to_string(&file).unwrap();
    let line: serde_json::Value = serde_json::from_str(
        text.lines()
            .find(|line| line.contains(r#""kind":"esf_document""#))
            .expect("an ESF line"),
    )
    .unwrap();
    assert_eq!(line["participant_id"], ROMASHKA);
    assert_eq!(line["number"], 1);
    assert_eq!(line["produced_at"], produced[0].produced_at.as_str());
    assert_eq!(line["digest"], produced[0].digest.as_str());
    let (code, output) = run(&["audit", file.to_str().unwrap()], &url, false);
    assert_eq!(code, 0, "{output}");
    assert!(output.contains("1 ESF documents produced"), "{output}");
    let copy = directory.path().join("copy.db");
    let copy_url = format!("sqlite:{}", copy.display());
    assert_eq!(run(&["migrate"], &copy_url, false).0, 0);
    let (code, output) = run(&["import", file.to_str().unwrap()], &copy_url, false);
    assert_eq!(code, 0, "{output}");
    assert!(output.contains("1 ESF documents produced"), "{output}");
    let repository = LedgerEventRepository::connect(&StoreLocation::Sqlite(copy))
        .await
        .unwrap();
    assert_eq!(repository.esf_produced().await.unwrap(), produced);
    repository.close().await;
}
