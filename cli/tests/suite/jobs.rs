//! Background jobs on exactly one server (issue 20, INTEGRATION.md 4), on PostgreSQL: two
//! real `edoc-ledger serve` processes share a store, both told to run the daily sweep;
//! one holds the job's lease and sweeps once (one sweep for the day, not two). It is
//! killed with SIGKILL as if it died mid-sweep (the day's sweep left unfinished in the
//! store); the other takes the lease over once it expires and finishes the day's sweep.
//! SQLite needs no such test: its store is one machine's file (the same leases work
//! there, between processes on that machine).

use std::time::{Duration, Instant};

use crate::common::{self, cli, drop_database, fresh_database, operator_token};

/// The lease: short, so that the test waits little for the takeover.
const LEASE_MS: &str = "1500";

/// Whether the server at `base` holds `job`'s lease, from its `/metrics`.
async fn holds(client: &reqwest::Client, base: &str, token: &str, job: &str) -> bool {
    let Ok(response) = client
        .get(format!("{base}/metrics"))
        .bearer_auth(token)
        .send()
        .await
    else {
        return false;
    };
    let text = response.text().await.unwrap_or_default();
    text.lines()
        .any(|line| line == format!("edoc_ledger_job_lease_held{{job=\"{job}\"}} 1"))
}

async fn sweeps(pool: &sqlx::PgPool) -> (i64, i64) {
    sqlx::query_as("SELECT COUNT(*), COUNT(*) FILTER (WHERE finished_at IS NOT NULL) FROM sweeps")
        .fetch_one(pool)
        .await
        .unwrap()
}

async fn wait_for<F: std::future::Future<Output = bool>>(
    what: &str,
    within: Duration,
    mut done: impl FnMut() -> F,
) -> Duration {
    let started = Instant::now();
    while !done().await {
        assert!(
            started.elapsed() < within,
            "{what} did not happen within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    started.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daily_sweep_runs_on_one_server_and_another_takes_it_over_after_sigkill() {
    let (url, name) = fresh_database().await;
    assert_eq!(cli(&url, &["migrate"]).0, 0);
    let token = operator_token(&url, "jobs-test");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    // A time of day always past: the holder sweeps for today as soon as it holds the
    // lease (a sweep not finished today is caught up).
    let env = [
        ("EDOC_DAILY_SWEEP_AT", "00:00"),
        ("EDOC_JOB_LEASE_MS", LEASE_MS),
    ];
    let mut servers = Vec::new();
    for _ in 0..2 {
        servers.push(common::serve(&url, &client, &env).await);
    }

    // Exactly one sweeps, once; exactly one holds the lease.
    wait_for("the day's sweep", Duration::from_secs(30), || async {
        sweeps(&pool).await.1 == 1
    })
    .await;
    tokio::time::sleep(Duration::from_millis(3 * 1500)).await;
    assert_eq!(
        sweeps(&pool).await,
        (1, 1),
        "one sweep for the day, not two"
    );
    let mut holders = Vec::new();
    for (index, (_, base)) in servers.iter().enumerate() {
        if holds(&client, base, &token, "daily-sweep").await {
            holders.push(index);
        }
    }
    assert_eq!(
        holders.len(),
        1,
        "exactly one server holds the lease: {holders:?}"
    );
    let holder = holders[0];
    let survivor = 1 - holder;
    let holder_id: String =
        sqlx::query_scalar("SELECT holder FROM leases WHERE name = 'daily-sweep'")
            .fetch_one(&pool)
            .await
            .unwrap();

    // The holder dies mid-sweep: SIGKILL, and the day's sweep unfinished in the store.
    servers[holder].0.kill();
    sqlx::query("UPDATE sweeps SET finished_at = NULL")
        .execute(&pool)
        .await
        .unwrap();
    let survivor_base = servers[survivor].1.clone();
    let takeover = wait_for("the takeover", Duration::from_secs(15), || {
        holds(&client, &survivor_base, &token, "daily-sweep")
    })
    .await;
    let finished = wait_for("the sweep's catch-up", Duration::from_secs(15), || async {
        sweeps(&pool).await == (2, 1)
    })
    .await;
    let new_holder: String =
        sqlx::query_scalar("SELECT holder FROM leases WHERE name = 'daily-sweep'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_ne!(new_holder, holder_id, "the lease changed hands");
    println!(
        "lease {LEASE_MS} ms: taken over {} ms after the SIGKILL, the day's sweep finished {} ms after that",
        takeover.as_millis(),
        finished.as_millis()
    );
    drop(servers);
    pool.close().await;
    drop_database(&name).await;
}
