//! PostgreSQL stopped under a running server (issue 6): commands answer 503
//! problem+json and record nothing, `/healthz` answers 503; PostgreSQL started again, the
//! same server serves again within 5 seconds, with nothing acknowledged lost. The test
//! starts a throwaway cluster of its own (initdb and pg_ctl on a free port, in a
//! temporary directory), never the machine's shared server.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::json;

use api::settings::{ServeSettings, StoreSettings};
use api::startup::Application;

use crate::helpers::{registration, OPERATOR_BIN};

/// Where initdb and pg_ctl are: `pg_config --bindir`, else PostgreSQL's Debian layout.
fn postgres_bin() -> PathBuf {
    if let Ok(output) = Command::new("pg_config").arg("--bindir").output() {
        let dir = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
        if dir.join("initdb").exists() {
            return dir;
        }
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|entries| entries.flatten().map(|e| e.path().join("bin")).collect())
        .unwrap_or_default();
    found.sort();
    found
        .pop()
        .filter(|dir| dir.join("initdb").exists())
        .expect("initdb and pg_ctl are needed (apt-get install postgresql)")
}

/// A PostgreSQL cluster of the test's own.
struct ThrowawayCluster {
    bin: PathBuf,
    directory: tempfile::TempDir,
    port: u16,
}

impl ThrowawayCluster {
    /// Runs a PostgreSQL program, as the `postgres` user when the test runs as root
    /// (initdb refuses root).
    fn run(&self, program: &str, args: &[&str]) {
        let path = self.bin.join(program);
        let is_root = Command::new("id")
            .arg("-u")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
            .unwrap_or(false);
        let mut command = if is_root {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(&path);
            command
        } else {
            Command::new(&path)
        };
        let output = command.args(args).output().expect("the program runs");
        assert!(
            output.status.success(),
            "{program} {args:?} failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    fn data(&self) -> String {
        self.directory.path().join("data").display().to_string()
    }

    fn start_new() -> Self {
        let directory = tempfile::tempdir().unwrap();
        // The postgres user must own the directory (and reach it) when we are root.
        let _ = Command::new("chmod")
            .args(["755"])
            .arg(directory.path())
            .status();
        let _ = Command::new("chown")
            .args(["postgres:postgres"])
            .arg(directory.path())
            .status();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let cluster = Self {
            bin: postgres_bin(),
            directory,
            port,
        };
        cluster.run(
            "initdb",
            &[
                "-D",
                &cluster.data(),
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
            ],
        );
        cluster.start();
        cluster
    }

    fn start(&self) {
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -k {} -c fsync=off",
            self.port,
            self.directory.path().display()
        );
        let log = self.directory.path().join("log").display().to_string();
        self.run(
            "pg_ctl",
            &[
                "-D",
                &self.data(),
                "-o",
                &options,
                "-l",
                &log,
                "-w",
                "start",
            ],
        );
    }

    fn stop(&self) {
        self.run("pg_ctl", &["-D", &self.data(), "-m", "fast", "-w", "stop"]);
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for ThrowawayCluster {
    fn drop(&mut self) {
        let data = self.data();
        let path: &Path = &self.bin;
        let _ = Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(path.join("pg_ctl"))
            .args(["-D", &data, "-m", "immediate", "-w", "stop"])
            .output();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_store_answers_503_and_the_same_server_recovers_within_5_seconds() {
    let cluster = ThrowawayCluster::start_new();
    let data_dir = tempfile::tempdir().unwrap();
    let application = Application::build(
        &StoreSettings {
            database_url: Some(cluster.url()),
            data_dir: data_dir.path().to_owned(),
        },
        &ServeSettings {
            listen: "127.0.0.1:0".parse().unwrap(),
            reference_dir: None,
            daily_sweep_at: None,
            sweep_no_fines: false,
            idempotency_ttl_hours: 24,
        },
    )
    .await
    .expect("the server starts on the throwaway cluster");
    let base = format!("http://{}", application.address());
    let ledger = application.ledger();
    let (_, token) = api::tokens::create(
        ledger.repository(),
        "outage-test",
        api::tokens::Role::Operator,
        None,
    )
    .await
    .unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(application.run_until(async {
        let _ = stopped.await;
    }));
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
