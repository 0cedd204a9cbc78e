//! What the tests of the binary share: a fresh PostgreSQL database per test
//! (failing, never skipping, with how to start the server when it is unreachable), and
//! valid BIN/IINs.

use events::ParticipantId;

pub fn server_url() -> String {
    std::env::var("EDOC_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// A fresh database on the test server; fails (never skips) with how to start PostgreSQL.
pub async fn fresh_database() -> (String, String) {
    let server = server_url();
    let pool = sqlx::PgPool::connect(&server)
        .await
        .unwrap_or_else(|error| {
            panic!(
            "cannot reach PostgreSQL at {server}: {error}\nThe PostgreSQL tests need a running \
             server. Start the machine's cluster with\n    pg_ctlcluster --skip-systemctl-redirect \
             $(ls /etc/postgresql) main start\nor point EDOC_TEST_DATABASE_URL at another server."
        )
        });
    let name = format!("edoc_api_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let (base, _) = server.rsplit_once('/').expect("a URL with a database");
    (format!("{base}/{name}"), name)
}

pub async fn drop_database(name: &str) {
    let pool = sqlx::PgPool::connect(&server_url()).await.unwrap();
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
}

/// `count` distinct valid BIN/IINs (the control digit checked), from `first_base` (11
/// digits) on: tests pick disjoint bases.
pub fn participant_ids(first_base: u64, count: usize) -> Vec<String> {
    (first_base..)
        .filter_map(|base| {
            (0..10)
                .map(|digit| format!("{base}{digit}"))
                .find(|id| ParticipantId::parse(id).is_ok())
        })
        .take(count)
        .collect()
}

/// Waits until a server started by the test answers at `base` (any answer to `/healthz`),
/// failing with `what` after `within`.
pub async fn wait_until_serving(
    client: &reqwest::Client,
    base: &str,
    within: std::time::Duration,
    what: &str,
) {
    let started = std::time::Instant::now();
    while client.get(format!("{base}/healthz")).send().await.is_err() {
        assert!(started.elapsed() < within, "{what}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// A GET with the bearer `token`, its answer read as JSON.
pub async fn get_json(client: &reqwest::Client, url: &str, token: &str) -> serde_json::Value {
    client
        .get(url)
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Runs the binary against `database_url` with `args`: its exit status and its output.
pub fn cli(database_url: &str, args: &[&str]) -> (i32, String) {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_edoc-ledger"))
        .args(args)
        .env("DATABASE_URL", database_url)
        .env("EDOC_LOG", "error")
        .output()
        .expect("edoc-ledger runs");
    (
        output.status.code().unwrap_or(-1),
        format!(
            "{}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
    )
}

/// A server the test started, killed with SIGKILL when dropped (so that a failing test
/// leaves no process behind) or by [`Server::kill`].
pub struct Server(std::process::Child);

impl Server {
    /// SIGKILL, as a lost machine: nothing is flushed, nothing given up.
    pub fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl From<std::process::Child> for Server {
    /// Any child the test started (another subcommand than `serve`).
    fn from(child: std::process::Child) -> Self {
        Self(child)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Starts `edoc-ledger serve` on a free port against `database_url`, with `env` set
/// too, and waits until it answers: the server and its base URL.
pub async fn serve(
    database_url: &str,
    client: &reqwest::Client,
    env: &[(&str, &str)],
) -> (Server, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_edoc-ledger"))
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .env("DATABASE_URL", database_url)
        .env("EDOC_LOG", "error")
        .envs(env.iter().copied())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("edoc-ledger serves");
    let server = Server(child);
    let base = format!("http://127.0.0.1:{port}");
    wait_until_serving(
        client,
        &base,
        std::time::Duration::from_secs(30),
        "the server did not start",
    )
    .await;
    (server, base)
}

/// An operator token made with `edoc-ledger token create` on `database_url`.
pub fn operator_token(database_url: &str, name: &str) -> String {
    let (code, token) = cli(
        database_url,
        &["token", "create", "--role", "operator", "--name", name],
    );
    assert_eq!(code, 0, "{token}");
    token.lines().next().unwrap().trim().to_owned()
}
