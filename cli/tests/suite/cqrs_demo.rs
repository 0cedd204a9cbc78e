//! `edoc-ledger cqrs-demo-serve`, the yardstick `edoc-ledger bench` loads beside the
//! ledger (ledger_bench::cqrs_demo): it creates postgres-es's tables, opens an account,
//! takes deposits, keeps its view, and refuses what the demo refuses. The figure it
//! yields is only as good as this server is the demo's.

use std::process::{Command, Stdio};

use crate::common::{drop_database, fresh_database, wait_until_serving, Server};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cqrs_demo_server_opens_an_account_and_takes_deposits() {
    let (url, name) = fresh_database().await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(env!("CARGO_BIN_EXE_edoc-ledger"))
        .args(["--listen", &format!("127.0.0.1:{port}"), "cqrs-demo-serve"])
        .env("DATABASE_URL", &url)
        .stdout(Stdio::null())
        .spawn()
        .expect("edoc-ledger runs");
    let _server = Server::from(child);
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    wait_until_serving(
        &client,
        &base,
        std::time::Duration::from_secs(30),
        "the cqrs-es demo server did not start",
    )
    .await;
    let command = |body: serde_json::Value| {
        client
            .post(format!("{base}/account/ACC-1"))
            .json(&body)
            .send()
    };
    let opened = command(serde_json::json!({"OpenAccount": {"account_id": "ACC-1"}}))
        .await
        .unwrap();
    assert_eq!(opened.status(), 204);
    for amount in [100.25, 50.5] {
        let deposited = command(serde_json::json!({"DepositMoney": {"amount": amount}}))
            .await
            .unwrap();
        assert_eq!(deposited.status(), 204);
    }
    let again = command(serde_json::json!({"OpenAccount": {"account_id": "ACC-1"}}))
        .await
        .unwrap();
    assert_eq!(again.status(), 400, "an account is opened once");
    let overdrawn = command(serde_json::json!({"WithdrawMoney": {"amount": 1000.0}}))
        .await
        .unwrap();
    assert_eq!(overdrawn.status(), 400, "no withdrawal beyond the balance");
    let view: serde_json::Value = client
        .get(format!("{base}/account/ACC-1"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(view["account_id"], "ACC-1");
    assert_eq!(view["balance"], 150.75);
    assert_eq!(view["ledger"].as_array().map(Vec::len), Some(2));

    // Its events are in postgres-es's table, one stream of three.
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    let stored: i64 =
        sqlx::query_scalar("SELECT count(*) FROM events WHERE aggregate_id = 'ACC-1'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(stored, 3);
    pool.close().await;
    drop(_server);
    drop_database(&name).await;
}
