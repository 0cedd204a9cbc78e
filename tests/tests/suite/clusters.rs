//! PostgreSQL clusters of a test's own (initdb and pg_ctl on a free port, in a temporary
//! directory, never the machine's shared server), a streaming replica of one
//! (pg_basebackup), and a server on one.

use std::path::{Path, PathBuf};
use std::process::Command;

use api::settings::{ServeSettings, StoreSettings};
use api::startup::Application;

/// Where initdb and pg_ctl are: `pg_config --bindir`, else PostgreSQL's Debian layout.
pub fn postgres_bin() -> PathBuf {
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
pub struct ThrowawayCluster {
    bin: PathBuf,
    directory: tempfile::TempDir,
    port: u16,
}

impl ThrowawayCluster {
    /// Runs a PostgreSQL program, as the `postgres` user when the test runs as root
    /// (initdb refuses root).
    pub fn run(&self, program: &str, args: &[&str]) {
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

    pub fn data(&self) -> String {
        self.directory.path().join("data").display().to_string()
    }

    /// A temporary directory the `postgres` user owns (when we are root) and a free
    /// port: a cluster not made yet.
    fn unmade() -> Self {
        let directory = tempfile::tempdir().unwrap();
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
        Self {
            bin: postgres_bin(),
            directory,
            port,
        }
    }

    pub fn start_new() -> Self {
        let cluster = Self::unmade();
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

    pub fn start(&self) {
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

    pub fn stop(&self) {
        self.stop_with("fast");
    }

    /// `fast` rolls back open transactions and shuts down cleanly; `immediate` quits
    /// without a shutdown checkpoint, as a crash would (recovery replays the WAL).
    pub fn stop_with(&self, mode: &str) {
        self.run("pg_ctl", &["-D", &self.data(), "-m", mode, "-w", "stop"]);
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn url(&self) -> String {
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

/// The server running on a throwaway cluster, with an operator token.
pub struct Served {
    pub base: String,
    pub ledger: std::sync::Arc<api::application::commands::Ledger>,
    pub token: String,
    pub stop: tokio::sync::oneshot::Sender<()>,
    pub server: tokio::task::JoinHandle<std::io::Result<()>>,
    pub _data_dir: tempfile::TempDir,
}

pub async fn serve_on(cluster: &ThrowawayCluster, token_name: &str) -> Served {
    serve_with(cluster, token_name, |_| {}).await
}

/// [`serve_on`] with its serve settings changed by `adjust` first.
pub async fn serve_with(
    cluster: &ThrowawayCluster,
    token_name: &str,
    adjust: impl FnOnce(&mut ServeSettings),
) -> Served {
    serve_at(cluster.url(), token_name, adjust).await
}

/// [`serve_with`] on the store at `database_url`.
pub async fn serve_at(
    database_url: String,
    token_name: &str,
    adjust: impl FnOnce(&mut ServeSettings),
) -> Served {
    let data_dir = tempfile::tempdir().unwrap();
    let mut serve = crate::helpers::serve_settings();
    adjust(&mut serve);
    let application = Application::build(
        &StoreSettings {
            database_url: Some(database_url),
            data_dir: data_dir.path().to_owned(),
        },
        &serve,
    )
    .await
    .expect("the server starts on the throwaway cluster");
    let base = format!("http://{}", application.address());
    let ledger = application.ledger();
    let (_, token) = api::application::tokens::create(
        ledger.repository(),
        token_name,
        api::application::tokens::Role::Operator,
        None,
    )
    .await
    .unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(application.run_until(async {
        let _ = stopped.await;
    }));
    Served {
        base,
        ledger,
        token,
        stop,
        server,
        _data_dir: data_dir,
    }
}

impl ThrowawayCluster {
    /// A streaming replica of `primary` (pg_basebackup -R: a hot standby that follows its
    /// WAL), started on a port of its own.
    pub fn replica_of(primary: &ThrowawayCluster) -> Self {
        let replica = Self::unmade();
        replica.run(
            "pg_basebackup",
            &[
                "-h",
                "127.0.0.1",
                "-p",
                &primary.port.to_string(),
                "-U",
                "postgres",
                "-D",
                &replica.data(),
                "-R",
                "-X",
                "stream",
            ],
        );
        replica.start();
        replica
    }
}
