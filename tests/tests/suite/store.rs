//! The store adapters themselves: schema compatibility with postgres-es / sqlite-es,
//! migrations, the invoice counter's compare-and-set, and no snapshots.

use cqrs_es::persist::{PersistedEventStore, SerializedEvent};
use cqrs_es::EventStore;
use serde_json::json;

use aggregates::ParticipantAgreement;
use api::store::{AppendError, LedgerEventRepository, StoreLocation};
use events::InvoiceNumber;

use crate::helpers::{invoice, spawn_app, Store, TestApp, OPERATOR_BIN};

crate::on_both_stores!(
    rows_are_readable_by_the_plain_cqrs_es_repositories,
    migrating_twice_changes_nothing,
    an_invoice_number_is_taken_only_in_order,
    a_conflicting_sequence_writes_nothing,
);

async fn location(app: &TestApp) -> StoreLocation {
    app.ledger.repository().location().clone()
}

/// The rows the ledger writes are postgres-es's / sqlite-es's own format: the crates'
/// repositories, used as they come, rebuild the same agreement.
async fn rows_are_readable_by_the_plain_cqrs_es_repositories(store: Store) {
    let app = spawn_app(store).await;
    app.signed_agreement(OPERATOR_BIN).await;
    app.post(
        &format!("/v1/agreements/{OPERATOR_BIN}/invoices"),
        &invoice("2026-02-02", "100.00"),
    )
    .await;
    let expected = app
        .ledger
        .agreement(&events::ParticipantId::parse(OPERATOR_BIN).unwrap())
        .await
        .unwrap()
        .unwrap();
    let loaded = match location(&app).await {
        StoreLocation::Postgres(url) => {
            let pool = sqlx::PgPool::connect(&url).await.unwrap();
            let store = PersistedEventStore::<_, ParticipantAgreement>::new_event_store(
                postgres_es::PostgresEventRepository::new(pool.clone()),
            );
            let context = store.load_aggregate(OPERATOR_BIN).await.unwrap();
            pool.close().await;
            context.aggregate
        }
        StoreLocation::Sqlite(path) => {
            let pool = sqlx::SqlitePool::connect(&format!("sqlite:{}", path.display()))
                .await
                .unwrap();
            let store = PersistedEventStore::<_, ParticipantAgreement>::new_event_store(
                sqlite_es::SqliteEventRepository::new(pool.clone()),
            );
            let context = store.load_aggregate(OPERATOR_BIN).await.unwrap();
            pool.close().await;
            context.aggregate
        }
    };
    assert_eq!(loaded, expected);
    assert_eq!(loaded.events_applied(), 3);
    app.finish().await;
}

async fn migrating_twice_changes_nothing(store: Store) {
    let app = spawn_app(store).await;
    app.signed_agreement(OPERATOR_BIN).await;
    let repository = LedgerEventRepository::connect(&location(&app).await)
        .await
        .unwrap();
    repository.migrate().await.unwrap();
    assert_eq!(agreement_events(&repository).await, 2);
    repository.close().await;
    app.finish().await;
}

/// The agreements' events (the store also holds the reference stream's).
async fn agreement_events(repository: &LedgerEventRepository) -> i64 {
    repository.count_events().await.unwrap() - repository.reference_last_sequence().await.unwrap()
}

fn event(sequence: usize, payload: serde_json::Value) -> SerializedEvent {
    SerializedEvent::new(
        OPERATOR_BIN.to_owned(),
        sequence,
        "ParticipantAgreement".to_owned(),
        "Test".to_owned(),
        "1.0".to_owned(),
        payload,
        json!({}),
    )
}

/// The counter is a compare-and-set from n-1 to n in the events' transaction: a number
/// out of order is refused and the whole append with it.
async fn an_invoice_number_is_taken_only_in_order(store: Store) {
    let app = spawn_app(store).await;
    let repository = app.ledger.repository();
    assert_eq!(
        repository.next_invoice_number().await.unwrap(),
        InvoiceNumber::new(1).unwrap()
    );
    let skipped = repository
        .append(
            &[event(1, json!({"n": 1}))],
            &[InvoiceNumber::new(2).unwrap()],
            None,
        )
        .await;
    assert!(
        matches!(skipped, Err(AppendError::Conflict(_))),
        "{skipped:?}"
    );
    assert_eq!(
        agreement_events(repository).await,
        0,
        "nothing written with a refused number"
    );
    repository
        .append(
            &[event(1, json!({"n": 1}))],
            &[InvoiceNumber::new(1).unwrap()],
            None,
        )
        .await
        .unwrap();
    let reused = repository
        .append(
            &[event(2, json!({"n": 2}))],
            &[InvoiceNumber::new(1).unwrap()],
            None,
        )
        .await;
    assert!(
        matches!(reused, Err(AppendError::Conflict(_))),
        "{reused:?}"
    );
    assert_eq!(
        repository.next_invoice_number().await.unwrap(),
        InvoiceNumber::new(2).unwrap()
    );
    assert_eq!(agreement_events(repository).await, 1);
    app.finish().await;
}

async fn a_conflicting_sequence_writes_nothing(store: Store) {
    let app = spawn_app(store).await;
    let repository = app.ledger.repository();
    repository
        .append(&[event(1, json!({})), event(2, json!({}))], &[], None)
        .await
        .unwrap();
    // A writer that loaded before event 2 tries to write 2 and 3: all or nothing.
    let raced = repository
        .append(&[event(2, json!({})), event(3, json!({}))], &[], None)
        .await;
    assert!(matches!(raced, Err(AppendError::Conflict(_))), "{raced:?}");
    assert_eq!(agreement_events(repository).await, 2);
    app.finish().await;
}
