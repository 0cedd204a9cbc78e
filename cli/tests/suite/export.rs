//! The auditor's round trip on PostgreSQL (issue 5): a store of 1,000 agreements made by
//! the ledger, exported with `edoc-ledger export`; `edoc-ledger audit` on the file alone
//! gives, for 20 random agreements and dates, exactly the API's balance, penalties,
//! invoices and statement; `edoc-ledger import` into an empty database followed by
//! `replay --check` and `verify` shows no difference and the same digest root; a digest
//! kept before more events were recorded still verifies the later export, and an export
//! altered by hand does not.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use aggregates::ReferenceData;
use api::application::commands::{CommandContext, Ledger, SystemClock};
use api::settings::{ServeSettings, StoreSettings};
use api::startup::Application;
use api::store::{LedgerEventRepository, StoreLocation};
use commands::AgreementCommand;
use events::{AgreementEvent, ParticipantId};
use serde_json::{json, Value};

const BINARY: &str = env!("CARGO_BIN_EXE_edoc-ledger");
const AGREEMENTS: usize = 1_000;
/// Tasks recording agreements at once.
const SEEDING_TASKS: usize = 4;

use crate::common::{self, drop_database, fresh_database};

fn participant_ids(count: usize) -> Vec<String> {
    common::participant_ids(30_000_000_000, count)
}

/// Runs the binary against a database (or none), returning its exit status and stdout.
fn run(args: &[&str], database_url: Option<&str>) -> (i32, String, String) {
    let mut command = Command::new(BINARY);
    command.args(args).env("EDOC_LOG", "warn");
    match database_url {
        Some(url) => command.env("DATABASE_URL", url),
        None => command.env_remove("DATABASE_URL"),
    };
    let output = command.output().expect("edoc-ledger runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    println!(
        "edoc-ledger {}: exit {:?}\n{}{stderr}",
        args.join(" "),
        output.status.code(),
        stdout.chars().take(2_000).collect::<String>()
    );
    (output.status.code().expect("exited"), stdout, stderr)
}

/// splitmix64: a small deterministic generator, so a failure can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn command<T: serde::de::DeserializeOwned>(body: Value) -> T {
    serde_json::from_value(body).expect("a well-formed command")
}

fn context() -> CommandContext {
    CommandContext {
        actor: "export-test".into(),
        request_id: "export-test".into(),
        sweep: None,
        idempotency: None,
    }
}

/// What happens to an agreement on a day (executed in date order, as the ledger refuses
/// backdated commands).
enum Step {
    Invoice { month: u64, price: u64 },
    Pay { month: u64, how: u64 },
    Charge { month: u64 },
    Waive { month: u64 },
}

/// One agreement's history: registered and signed in January 2026, monthly invoices
/// from February, paid on time, late, in part, over the total or not at all, with
/// penalties charged and waived now and then.
async fn record_agreement(ledger: &Ledger, id: &str, seed: u64) {
    let mut rng = Rng(seed);
    let participant = ParticipantId::parse(id).unwrap();
    let execute = |command: AgreementCommand| async {
        ledger
            .execute(&participant, command, &context())
            .await
            .unwrap_or_else(|e| panic!("{id}: {e}"))
    };
    execute(AgreementCommand::Register(command(json!({
        "participant_id": id, "name": "ТОО «Участник»", "kind": "legal_entity",
        "resident": true, "currency": "KZT", "email": "buh@example.kz",
        "registered_on": "2026-01-05"}))))
    .await;
    execute(AgreementCommand::Sign(command(
        json!({"signed_on": "2026-01-06"}),
    )))
    .await;
    let mut steps: Vec<(String, Step)> = Vec::new();
    for month in 0..2 + rng.below(4) {
        let price = 1_000 + rng.below(40) * 500;
        steps.push((
            format!("2026-{:02}-02", 2 + month),
            Step::Invoice { month, price },
        ));
        let how = rng.below(5);
        let paid_on = match how {
            0 => Some(format!("2026-{:02}-05", 2 + month)),
            1 => Some(format!("2026-{:02}-25", 2 + month)),
            2 => Some(format!("2026-{:02}-06", 2 + month)),
            3 => Some(format!("2026-{:02}-20", 3 + month)),
            _ => None,
        };
        if let Some(on) = paid_on {
            steps.push((on, Step::Pay { month, how }));
        }
        if how != 0 && rng.below(3) == 0 {
            let on = format!("2026-{:02}-27", 3 + month);
            steps.push((on.clone(), Step::Charge { month }));
            if rng.below(2) == 0 {
                steps.push((on, Step::Waive { month }));
            }
        }
    }
    steps.sort_by(|a, b| a.0.cmp(&b.0)); // stable: a charge stays before its waiver
    let mut invoices = std::collections::HashMap::new();
    for (on, step) in steps {
        match step {
            Step::Invoice { month, price } => {
                let committed = execute(AgreementCommand::IssueInvoice(command(json!({
                    "kind": "subscription", "issued_on": on,
                    "lines": [{"description": "E-DOC subscription", "quantity": 1,
                               "unit_price": format!("{price}.00")}]}))))
                .await;
                let issued = committed
                    .events
                    .iter()
                    .find_map(|e| match &e.payload {
                        AgreementEvent::InvoiceIssued(issued) => {
                            Some((issued.number, issued.total.amount()))
                        }
                        _ => None,
                    })
                    .expect("an invoice was issued");
                invoices.insert(month, issued);
            }
            Step::Pay { month, how } => {
                let total = invoices[&month].1;
                let amount = match how {
                    2 => total / rust_decimal::Decimal::TWO,
                    3 => total + rust_decimal::Decimal::from(700),
                    _ => total,
                };
                execute(AgreementCommand::ReceivePayment(command(json!({
                    "reference": format!("{id}-{month}"), "received_on": on,
                    "amount": format!("{amount:.2}")}))))
                .await;
            }
            Step::Charge { month } => {
                execute(AgreementCommand::ChargeLatePayment(command(json!({
                    "invoice_number": invoices[&month].0, "kind": "penalty", "on": on}))))
                .await;
            }
            Step::Waive { month } => {
                // Refused when an advance already paid the charge: nothing is owed to waive.
                let waiver = AgreementCommand::WaiveLatePayment(command(json!({
                    "invoice_number": invoices[&month].0, "kind": "penalty", "amount": "1.00",
                    "reason": "goodwill", "on": on})));
                match ledger.execute(&participant, waiver, &context()).await {
                    Ok(_) | Err(api::application::commands::LedgerError::Refused(_)) => {}
                    Err(other) => panic!("{id}: {other}"),
                }
            }
        }
    }
}

struct Server {
    base: String,
    stop: tokio::sync::oneshot::Sender<()>,
    handle: tokio::task::JoinHandle<()>,
}

async fn serve(database_url: &str, data_dir: &Path) -> Server {
    let application = Application::build(
        &StoreSettings {
            database_url: Some(database_url.to_owned()),
            data_dir: data_dir.to_owned(),
        },
        &ServeSettings {
            listen: "127.0.0.1:0".parse().unwrap(),
            reference_dir: None,
            daily_sweep_at: None,
            monthly_billing_at: None,
            nats_url: None,
            sweep_no_fines: false,
            job_lease_ms: 10_000,
            read_database_url: None,
            read_wait_ms: 1_000,
            token_cache_ms: 200,
            idempotency_ttl_hours: 24,
            webhooks: Default::default(),
            operator: Default::default(),
        },
    )
    .await
    .unwrap();
    let base = format!("http://{}", application.address());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let handle = tokio::spawn(async move {
        application
            .run_until(async {
                let _ = stopped.await;
            })
            .await
            .unwrap();
    });
    Server { base, stop, handle }
}

fn read_figures(path: &Path) -> std::collections::HashMap<String, Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|line| {
            let figures: Value = serde_json::from_str(line).unwrap();
            (
                figures["participant_id"].as_str().unwrap().to_owned(),
                figures,
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_replays_offline_to_the_api_s_figures_and_imports_into_an_empty_store() {
    let (url, name) = fresh_database().await;
    let (copy_url, copy_name) = fresh_database().await;
    let work = std::env::temp_dir().join(format!("edoc-export-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&work).unwrap();
    let path = |file: &str| -> PathBuf { work.join(file) };
    let text = |p: &PathBuf| p.to_str().unwrap().to_owned();

    // A store of 1,000 agreements, recorded by the ledger (so every event is chained).
    let repository = LedgerEventRepository::connect(&StoreLocation::Postgres(url.clone()))
        .await
        .unwrap();
    let ledger = Arc::new(Ledger::new(
        repository.clone(),
        Arc::new(ReferenceData::embedded().unwrap()),
        Arc::new(SystemClock),
    ));
    let ids = participant_ids(AGREEMENTS);
    let half = AGREEMENTS / 2;
    let seed = |ids: Vec<String>, offset: usize| {
        let ledger = ledger.clone();
        async move {
            let chunks: Vec<Vec<String>> = ids
                .chunks(ids.len().div_ceil(SEEDING_TASKS))
                .map(<[String]>::to_vec)
                .collect();
            let mut tasks = Vec::new();
            for (task, chunk) in chunks.into_iter().enumerate() {
                let ledger = ledger.clone();
                tasks.push(tokio::spawn(async move {
                    for (index, id) in chunk.iter().enumerate() {
                        let seed = (offset + task * 10_000 + index) as u64;
                        record_agreement(&ledger, id, seed).await;
                    }
                }));
            }
            for task in tasks {
                task.await.unwrap();
            }
        }
    };
    seed(ids[..half].to_vec(), 0).await;

    // A digest kept by the auditor, then more events.
    let (code, kept, _) = run(&["digest"], Some(&url));
    assert_eq!(code, 0);
    std::fs::write(path("kept-digest.json"), &kept).unwrap();
    seed(ids[half..].to_vec(), 1_000_000).await;
    // Two ESF documents logged as produced (BILLING.md 6), the first invoice of two
    // agreements: the export carries the log.
    let mut produced = Vec::new();
    for id in &ids[..2] {
        let history = ledger
            .history(&ParticipantId::parse(id).unwrap())
            .await
            .unwrap();
        let issued = history
            .iter()
            .find_map(|e| match &e.payload {
                AgreementEvent::InvoiceIssued(issued) => Some(issued.clone()),
                _ => None,
            })
            .expect("an invoice");
        produced.push(api::store::EsfProducedRow {
            participant_id: id.clone(),
            number: i64::try_from(issued.number.value()).unwrap(),
            document_type: "ORDINARY_INVOICE".to_owned(),
            issued_on: issued.issued_on.to_string(),
            turnover_date: issued.turnover_date().to_string(),
            digest: "0f".repeat(32),
            produced_at: String::new(),
            produced_by: "edoc-ledger esf export".to_owned(),
        });
    }
    assert_eq!(repository.record_esf_produced(&produced).await.unwrap(), 2);

    let (code, _, stderr) = run(
        &["export", "--out", &text(&path("export.jsonl"))],
        Some(&url),
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains(&format!("of {AGREEMENTS} agreements")),
        "{stderr}"
    );

    // The auditor's side: the file alone (no DATABASE_URL), against the kept digest.
    let mut rng = Rng(20_261_125);
    let dates = [
        "2026-02-20",
        "2026-03-31",
        "2026-05-11",
        "2026-06-30",
        "2026-08-15",
    ];
    let server = serve(&url, &work).await;
    let (_, token) = api::application::tokens::create(
        &repository,
        "export-test-auditor",
        api::application::tokens::Role::Auditor,
        None,
    )
    .await
    .unwrap();
    let http = reqwest::Client::new();
    let mut compared = 0;
    for date in dates {
        let figures_file = path(&format!("figures-{date}.jsonl"));
        let (code, _, stderr) = run(
            &[
                "audit",
                &text(&path("export.jsonl")),
                "--as-of",
                date,
                "--digest",
                &text(&path("kept-digest.json")),
                "--out",
                &text(&figures_file),
            ],
            None,
        );
        assert_eq!(code, 0, "{stderr}");
        assert!(
            stderr.contains(&format!("and the kept digest ({half} heads matched)")),
            "{stderr}"
        );
        let figures = read_figures(&figures_file);
        assert_eq!(figures.len(), AGREEMENTS);
        for _ in 0..4 {
            let id = &ids[rng.below(AGREEMENTS as u64) as usize];
            let offline = &figures[id];
            for (endpoint, field) in [
                ("balance", "balance"),
                ("penalties", "penalties"),
                ("invoices", "invoices"),
                ("statement", "statement"),
            ] {
                let answer = common::get_json(
                    &http,
                    &format!("{}/v1/agreements/{id}/{endpoint}?as_of={date}", server.base),
                    &token,
                )
                .await;
                assert_eq!(
                    offline[field], answer,
                    "{id} {endpoint} as of {date}: the audit differs from the API"
                );
            }
            compared += 1;
        }
    }
    assert_eq!(compared, 20);
    let _ = server.stop.send(());
    server.handle.await.unwrap();

    // Into an empty database: verified, loaded, projected; nothing differs.
    let (code, stdout, stderr) = run(&["import", &text(&path("export.jsonl"))], Some(&copy_url));
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("equals the export's"), "{stdout}");
    let (code, stdout, _) = run(&["replay", "--check"], Some(&copy_url));
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("no difference"), "{stdout}");
    let (code, stdout, _) = run(
        &["verify", "--digest", &text(&path("kept-digest.json"))],
        Some(&copy_url),
    );
    assert_eq!(code, 0, "{stdout}");
    // A second import is refused: the store is no longer empty.
    let (code, _, stderr) = run(&["import", &text(&path("export.jsonl"))], Some(&copy_url));
    assert_eq!(code, 2);
    assert!(
        stderr.contains("import loads an export into an empty store only"),
        "{stderr}"
    );

    // The copy serves new commands: invoice numbers continue from the highest imported.
    let copy = LedgerEventRepository::connect(&StoreLocation::Postgres(copy_url.clone()))
        .await
        .unwrap();
    let original_next = repository.next_invoice_number().await.unwrap();
    assert_eq!(copy.next_invoice_number().await.unwrap(), original_next);
    // The ESF log as it was, to the microsecond.
    let logged = repository.esf_produced().await.unwrap();
    assert_eq!(logged.len(), 2);
    assert_eq!(copy.esf_produced().await.unwrap(), logged);
    copy.close().await;

    // An old event altered in the file: the audit refuses it and recomputes nothing.
    let export = std::fs::read_to_string(path("export.jsonl")).unwrap();
    let target = format!("\"aggregate_id\":\"{}\",\"sequence\":3,", ids[7]);
    let altered: String = export
        .lines()
        .map(|line| {
            if line.contains(&target) {
                line.replacen("\"net\":{\"amount\":\"", "\"net\":{\"amount\":\"1", 1)
            } else {
                line.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    assert!(altered != export.trim_end(), "the test altered the export");
    std::fs::write(path("altered.jsonl"), altered).unwrap();
    let (code, stdout, stderr) = run(&["audit", &text(&path("altered.jsonl"))], None);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stdout.is_empty(),
        "nothing is recomputed from a broken export"
    );
    assert!(
        stderr.contains(&format!("BROKEN at {} sequence 3", ids[7])),
        "{stderr}"
    );
    let (code, _, stderr) = run(&["import", &text(&path("altered.jsonl"))], Some(&url));
    assert_eq!(code, 2);
    assert!(
        stderr.contains("does not verify, nothing was imported"),
        "{stderr}"
    );

    repository.close().await;
    drop(ledger);
    std::fs::remove_dir_all(&work).ok();
    drop_database(&name).await;
    drop_database(&copy_name).await;
}
