//! PostgreSQL stopped under a running server (issue 6): commands answer 503
//! problem+json and record nothing, `/healthz` answers 503; PostgreSQL started again, the
//! same server serves again within 5 seconds, with nothing acknowledged lost. And the same
//! under concurrent load (issue 7): a fast stop and a crash-like immediate stop while
//! clients post payments and invoices, retrying on 503 as a bank feed would. The tests
//! start a throwaway cluster of their own (initdb and pg_ctl on a free port, in a
//! temporary directory), never the machine's shared server.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::clusters::{serve_on, Served, ThrowawayCluster};
use crate::helpers::{registration, OPERATOR_BIN};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_store_answers_503_and_the_same_server_recovers_within_5_seconds() {
    let cluster = ThrowawayCluster::start_new();
    let Served {
        base,
        ledger: _,
        token,
        stop,
        server,
        _data_dir,
    } = serve_on(&cluster, "outage-test").await;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let post = |path: &str, body: serde_json::Value| {
        client
            .post(format!("{base}{path}"))
            .bearer_auth(&token)
            .json(&body)
            .send()
    };
    let health = || client.get(format!("{base}/healthz")).send();

    assert_eq!(
        post("/v1/agreements", registration(OPERATOR_BIN))
            .await
            .unwrap()
            .status(),
        201
    );
    assert_eq!(health().await.unwrap().status(), 200);

    cluster.stop();
    let refused = post(
        &format!("/v1/agreements/{OPERATOR_BIN}/signature"),
        json!({"signed_on": "2026-01-06"}),
    )
    .await
    .unwrap();
    assert_eq!(refused.status(), 503);
    assert_eq!(
        refused.headers()["content-type"],
        "application/problem+json"
    );
    let problem: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(problem["type"], "urn:edoc-ledger:problem:store-unavailable");
    assert_eq!(health().await.unwrap().status(), 503);

    cluster.start();
    let restarted = Instant::now();
    loop {
        if health().await.map(|r| r.status() == 200).unwrap_or(false) {
            break;
        }
        assert!(
            restarted.elapsed() < Duration::from_secs(5),
            "the server did not serve again within 5 seconds of the store's return"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let signed = post(
        &format!("/v1/agreements/{OPERATOR_BIN}/signature"),
        json!({"signed_on": "2026-01-06"}),
    )
    .await
    .unwrap();
    assert_eq!(signed.status(), 200, "{:?}", signed.text().await);
    // Nothing acknowledged was lost, and the refused command recorded nothing twice.
    let events: serde_json::Value = client
        .get(format!("{base}/v1/agreements/{OPERATOR_BIN}/events"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let types: Vec<&str> = events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["Registered", "AgreementSigned"]);

    let _ = stop.send(());
    let _ = server.await;
}

/// A command a load client had answered 201 or 200 (a repeat whose first answer the
/// outage cut off), by the reference it carried.
#[derive(Debug, Clone)]
struct Acknowledged {
    participant: String,
    reference: String,
    /// The invoice number answered, for a usage invoice.
    invoice_number: Option<String>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_stopped_and_started_under_load_loses_nothing_acknowledged() {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::Arc;

    const AGREEMENTS: usize = 4;
    const CLIENTS: usize = 8;

    let cluster = ThrowawayCluster::start_new();
    let Served {
        base,
        ledger,
        token,
        stop,
        server,
        _data_dir,
    } = serve_on(&cluster, "fault-test").await;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let ids = crate::helpers::participant_ids(AGREEMENTS);
    for id in &ids {
        for (path, body) in [
            ("/v1/agreements".to_owned(), registration(id)),
            (
                format!("/v1/agreements/{id}/signature"),
                json!({"signed_on": "2026-01-06"}),
            ),
            (
                format!("/v1/agreements/{id}/invoices"),
                crate::helpers::invoice("2026-02-02", "1000000.00"),
            ),
        ] {
            let status = client
                .post(format!("{base}{path}"))
                .bearer_auth(&token)
                .json(&body)
                .send()
                .await
                .unwrap()
                .status();
            assert!(status.is_success(), "{path}: {status}");
        }
    }

    let acknowledged = Arc::new(AtomicUsize::new(0));
    let unavailable = Arc::new(AtomicUsize::new(0));
    let finish = Arc::new(AtomicBool::new(false));
    let mut load = Vec::new();
    for client_number in 0..CLIENTS {
        let (client, base, token, ids) = (client.clone(), base.clone(), token.clone(), ids.clone());
        let (acknowledged, unavailable, finish) =
            (acknowledged.clone(), unavailable.clone(), finish.clone());
        load.push(tokio::spawn(async move {
            let mut done = Vec::new();
            let mut n = 0;
            while !finish.load(Ordering::SeqCst) {
                let participant = ids[(client_number + n) % ids.len()].clone();
                let reference = format!("C{client_number}-N{n}");
                let issues_invoices = client_number % 4 == 3;
                let (path, body) = if issues_invoices {
                    ("invoices", json!({"kind": "usage", "issued_on": "2026-02-05", "lines": [{"description": reference, "quantity": 1, "unit_price": "10.00"}]}))
                } else {
                    ("payments", json!({"reference": reference, "received_on": "2026-02-05", "amount": "1.00"}))
                };
                // The same command again on 503, as a feed retries: a payment's reference
                // makes the retry safe (200 with the first answer if it did commit), and an
                // invoice carries an Idempotency-Key for the same reason.
                loop {
                    let mut request = client
                        .post(format!("{base}/v1/agreements/{participant}/{path}"))
                        .bearer_auth(&token)
                        .json(&body);
                    if issues_invoices {
                        request = request.header("Idempotency-Key", format!("fault-{reference}"));
                    }
                    let response = request
                        .send()
                        .await
                        .expect("the server answers while its store is down");
                    let status = response.status().as_u16();
                    if status == 503 {
                        assert_eq!(response.headers()["content-type"], "application/problem+json");
                        unavailable.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                    let answer: serde_json::Value = response.json().await.unwrap();
                    assert!(
                        status == 201 || (status == 200 && !issues_invoices),
                        "{path} {reference}: {status} {answer}"
                    );
                    done.push(Acknowledged {
                        participant: participant.clone(),
                        reference: reference.clone(),
                        invoice_number: issues_invoices
                            .then(|| answer["number"].as_str().unwrap().to_owned()),
                    });
                    acknowledged.fetch_add(1, Ordering::SeqCst);
                    break;
                }
                n += 1;
            }
            done
        }));
    }
    let wait_for = |target: usize| {
        let acknowledged = acknowledged.clone();
        async move {
            let waiting = Instant::now();
            while acknowledged.load(Ordering::SeqCst) < target {
                assert!(
                    waiting.elapsed() < Duration::from_secs(60),
                    "the load stalled at {} acknowledged",
                    acknowledged.load(Ordering::SeqCst)
                );
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    };
    let health = || client.get(format!("{base}/healthz")).send();

    for (outage, mode) in ["fast", "immediate"].iter().enumerate() {
        wait_for(acknowledged.load(Ordering::SeqCst) + 50).await;
        let before = unavailable.load(Ordering::SeqCst);
        cluster.stop_with(mode);
        // Down: the clients see 503 (counted), /healthz too.
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(health().await.unwrap().status(), 503);
        let during = unavailable.load(Ordering::SeqCst) - before;
        assert!(
            during > 0,
            "outage {outage} ({mode}): no 503 seen while down"
        );
        cluster.start();
        let restarted = Instant::now();
        let at_restart = acknowledged.load(Ordering::SeqCst);
        wait_for(at_restart + 50).await;
        println!(
            "outage {outage} (pg_ctl stop -m {mode}): {during} answers 503 while down; load back to 50 more acknowledged {:.2} s after the start",
            restarted.elapsed().as_secs_f64()
        );
    }
    finish.store(true, Ordering::SeqCst);
    let mut all = Vec::new();
    for task in load {
        all.extend(task.await.unwrap());
    }

    // Each acknowledged command is recorded once (an invoice under its answered number);
    // invoice numbers have no gap and no repeat (§5.3).
    let mut invoice_numbers = Vec::new();
    let mut recorded: std::collections::BTreeMap<(String, String), Vec<Option<String>>> =
        Default::default();
    for id in &ids {
        let events: serde_json::Value = client
            .get(format!("{base}/v1/agreements/{id}/events"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        for event in events.as_array().unwrap() {
            let payload = &event["payload"];
            if event["type"] == "PaymentReceived" {
                let reference = payload["reference"].as_str().unwrap().to_owned();
                recorded
                    .entry((id.clone(), reference))
                    .or_default()
                    .push(None);
            }
            if event["type"] == "InvoiceIssued" {
                let number = payload["number"].as_str().unwrap().to_owned();
                invoice_numbers.push(number.parse::<u64>().unwrap());
                let reference = payload["lines"][0]["description"]
                    .as_str()
                    .unwrap()
                    .to_owned();
                recorded
                    .entry((id.clone(), reference))
                    .or_default()
                    .push(Some(number));
            }
        }
    }
    for command in &all {
        assert_eq!(
            recorded.get(&(command.participant.clone(), command.reference.clone())),
            Some(&vec![command.invoice_number.clone()]),
            "{command:?} acknowledged, not recorded once as answered"
        );
    }
    assert!(
        recorded.values().all(|times| times.len() == 1),
        "a command recorded twice"
    );
    invoice_numbers.sort_unstable();
    let expected: Vec<u64> = (1..=invoice_numbers.len() as u64).collect();
    assert_eq!(
        invoice_numbers, expected,
        "invoice numbers with a gap or a repeat"
    );
    // Nothing half-applied: chains verify and the projections equal a replay.
    let verified = api::application::audit::verify_store(ledger.repository(), None, |_| {})
        .await
        .unwrap();
    assert!(verified.ok, "{verified:?}");
    let checked = api::application::replay::check(ledger.repository(), |_| {})
        .await
        .unwrap();
    assert!(checked.is_clean(), "{:?}", checked.differences);
    println!(
        "{} commands acknowledged across two outages, each recorded once; verify ok, replay --check clean",
        all.len()
    );

    let _ = stop.send(());
    let _ = server.await;
}
