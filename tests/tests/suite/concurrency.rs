//! Races: concurrent invoices take distinct consecutive numbers; concurrent payments are
//! each recorded exactly once; the same across two servers on one store, where only the
//! store's optimistic checks (event sequence, invoice counter) stand between them.

use std::collections::BTreeSet;

use futures::future::join_all;
use rust_decimal::Decimal;
use serde_json::{json, Value};

use crate::helpers::{invoice, participant_ids, spawn_app, Store, OPERATOR_BIN};

crate::on_both_stores!(
    concurrent_invoices_get_distinct_consecutive_numbers,
    concurrent_payments_are_each_recorded_once,
    concurrent_repeats_of_one_reference_record_one_payment,
    two_servers_on_one_store_lose_and_duplicate_nothing,
);

const CONCURRENT: usize = 100;

async fn concurrent_invoices_get_distinct_consecutive_numbers(store: Store) {
    let app = spawn_app(store).await;
    let ids = participant_ids(CONCURRENT);
    for id in &ids {
        app.signed_agreement(id).await;
    }
    let responses = join_all(ids.iter().map(|id| {
        let app = &app;
        async move {
            app.post(
                &format!("/v1/agreements/{id}/invoices"),
                &invoice("2026-02-02", "100.00"),
            )
            .await
        }
    }))
    .await;
    let mut numbers = BTreeSet::new();
    for response in responses {
        assert_eq!(response.status(), 201);
        let body: Value = response.json().await.unwrap();
        numbers.insert(body["number"].as_str().unwrap().parse::<u64>().unwrap());
    }
    assert_eq!(
        numbers,
        (1..=CONCURRENT as u64).collect::<BTreeSet<_>>(),
        "distinct, consecutive, gapless"
    );
    app.finish().await;
}

async fn concurrent_payments_are_each_recorded_once(store: Store) {
    let app = spawn_app(store).await;
    let id = OPERATOR_BIN;
    app.signed_agreement(id).await;
    app.post(
        &format!("/v1/agreements/{id}/invoices"),
        &invoice("2026-02-02", "100000.00"),
    )
    .await;
    let responses = join_all((0..CONCURRENT).map(|n| {
        let app = &app;
        async move {
            let body = json!({"reference": format!("BANK-{n:03}"), "received_on": "2026-02-05", "amount": format!("{}.01", 100 + n)});
            app.post(&format!("/v1/agreements/{id}/payments"), &body).await
        }
    }))
    .await;
    for response in responses {
        assert_eq!(response.status(), 201, "{:?}", response.text().await);
    }
    let events = app.events(id).await;
    let payments: Vec<&Value> = events
        .iter()
        .filter(|e| e["type"] == "PaymentReceived")
        .collect();
    assert_eq!(
        payments.len(),
        CONCURRENT,
        "every payment recorded exactly once"
    );
    let references: BTreeSet<_> = payments
        .iter()
        .map(|e| e["payload"]["reference"].as_str().unwrap())
        .collect();
    assert_eq!(references.len(), CONCURRENT);
    // The allocations add up: nothing lost, nothing counted twice.
    let paid: Decimal = payments
        .iter()
        .map(|e| {
            e["payload"]["allocations"][0]["principal"]["amount"]
                .as_str()
                .unwrap()
                .parse::<Decimal>()
                .unwrap()
        })
        .sum();
    let expected: Decimal = (0..CONCURRENT)
        .map(|n| Decimal::new((100 + n as i64) * 100 + 1, 2))
        .sum();
    assert_eq!(paid, expected);
    // The balance agrees to the tiyn.
    let balance = app
        .get_json(&format!("/v1/agreements/{id}/balance?as_of=2026-02-05"))
        .await;
    assert_eq!(balance["paid"], format!("{expected:.2}"), "{balance}");
    let sequences: Vec<i64> = events
        .iter()
        .map(|e| e["sequence"].as_i64().unwrap())
        .collect();
    assert_eq!(
        sequences,
        (1..=events.len() as i64).collect::<Vec<_>>(),
        "no gaps, no duplicates"
    );
    app.finish().await;
}

async fn concurrent_repeats_of_one_reference_record_one_payment(store: Store) {
    let app = spawn_app(store).await;
    let id = OPERATOR_BIN;
    app.signed_agreement(id).await;
    let body = json!({"reference": "BANK-SAME", "received_on": "2026-02-05", "amount": "10.00"});
    let path = format!("/v1/agreements/{id}/payments");
    let responses = join_all((0..CONCURRENT).map(|_| app.post(&path, &body))).await;
    let statuses: Vec<u16> = responses.iter().map(|r| r.status().as_u16()).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        CONCURRENT - 1,
        "{statuses:?}"
    );
    let payments = app
        .event_types(id)
        .await
        .into_iter()
        .filter(|t| t == "PaymentReceived")
        .count();
    assert_eq!(payments, 1);
    app.finish().await;
}

/// Two servers share only the database: their commands on one agreement race on the event
/// sequence, their invoices on the operator-wide counter. Each loser decides again.
async fn two_servers_on_one_store_lose_and_duplicate_nothing(store: Store) {
    const PER_SERVER: usize = 40;
    let first = spawn_app(store).await;
    let second = first.second_server().await;
    let id = OPERATOR_BIN;
    first.signed_agreement(id).await;
    let others = participant_ids(PER_SERVER);
    for other in &others {
        first.signed_agreement(other).await;
    }
    let servers = [&first, &second];
    let payments = join_all((0..2 * PER_SERVER).map(|n| {
        let app = servers[n % 2];
        async move {
            let body = json!({"reference": format!("TWO-{n:03}"), "received_on": "2026-02-05", "amount": "10.00"});
            app.post(&format!("/v1/agreements/{id}/payments"), &body).await
        }
    }));
    // Invoices on many agreements through both servers at once: one counter.
    let invoices = join_all(others.iter().enumerate().map(|(n, other)| {
        let app = servers[n % 2];
        async move {
            app.post(
                &format!("/v1/agreements/{other}/invoices"),
                &invoice("2026-02-02", "100.00"),
            )
            .await
        }
    }));
    let (payments, invoices) = futures::join!(payments, invoices);
    for response in payments {
        assert_eq!(response.status(), 201, "{:?}", response.text().await);
    }
    let mut numbers = BTreeSet::new();
    for response in invoices {
        assert_eq!(response.status(), 201);
        let body: Value = response.json().await.unwrap();
        numbers.insert(body["number"].as_str().unwrap().parse::<u64>().unwrap());
    }
    assert_eq!(
        numbers,
        (1..=PER_SERVER as u64).collect::<BTreeSet<_>>(),
        "distinct, consecutive, gapless across two servers"
    );
    let events = first.events(id).await;
    let references: Vec<&str> = events
        .iter()
        .filter(|e| e["type"] == "PaymentReceived")
        .map(|e| e["payload"]["reference"].as_str().unwrap())
        .collect();
    assert_eq!(references.len(), 2 * PER_SERVER, "each payment once");
    assert_eq!(
        references.iter().collect::<BTreeSet<_>>().len(),
        2 * PER_SERVER
    );
    let balance = second
        .get_json(&format!("/v1/agreements/{id}/balance"))
        .await;
    assert_eq!(
        balance["advance"],
        format!("{}.00", 2 * PER_SERVER * 10),
        "{balance}"
    );
    second.finish().await;
    first.finish().await;
}
