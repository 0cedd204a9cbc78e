//! `spawn_app`: the real server on a free port, on a fresh database.

use std::path::PathBuf;
use std::sync::Arc;

use api::application::commands::{Clock, Ledger};
use api::settings::{ServeSettings, StoreSettings, WebhookSettings};
use api::startup::Application;
use serde_json::{json, Value};
use sqlx::Connection;

/// Which event store a test runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Store {
    Postgres,
    Sqlite,
}

/// Generates one `#[tokio::test]` per store for each named `async fn name(store: Store)`.
#[macro_export]
macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::helpers::Store::Postgres).await
                }
            )*
        }
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::helpers::Store::Sqlite).await
                }
            )*
        }
    };
}

pub const OPERATOR_BIN: &str = "150240008272";

/// USD rates for the tests, loaded through the same override mechanism an operator uses.
const TEST_EXCHANGE_RATES: &str = r#"
version = "test-rates-1"
source = "made up for the test suite"

[[usd_kzt]]
date = "2026-02-02"
rate = "50315"
quant = 100
"#;

pub fn admin_database_url() -> String {
    std::env::var("EDOC_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

const HOW_TO_START_POSTGRES: &str = "The PostgreSQL tests need a running server. Start the machine's cluster with\n    pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start\nor point EDOC_TEST_DATABASE_URL at a server (postgres://user@host:port/database) whose user may CREATE DATABASE.";

/// Creates a fresh database and returns its URL.
pub async fn fresh_postgres_database() -> (String, String) {
    let admin = admin_database_url();
    let mut connection = sqlx::PgConnection::connect(&admin)
        .await
        .unwrap_or_else(|error| {
            panic!("cannot reach PostgreSQL at {admin}: {error}\n{HOW_TO_START_POSTGRES}")
        });
    let name = format!("edoc_test_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut connection)
        .await
        .unwrap_or_else(|error| {
            panic!("cannot create a test database on {admin}: {error}\n{HOW_TO_START_POSTGRES}")
        });
    let _ = connection.close().await;
    let base = admin
        .rsplit_once('/')
        .map(|(base, _)| base.to_owned())
        .expect("a database URL names its database");
    (format!("{base}/{name}"), name)
}

pub async fn drop_postgres_database(name: &str) {
    if let Ok(mut connection) = sqlx::PgConnection::connect(&admin_database_url()).await {
        let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&mut connection)
            .await;
        let _ = connection.close().await;
    }
}

/// Everything a test needs to talk to one running server.
pub struct TestApp {
    /// The clock the server reads; the machine's unless the test fixed one.
    pub clock: Option<Arc<dyn Clock>>,
    pub address: String,
    pub client: reqwest::Client,
    pub ledger: Arc<Ledger>,
    pub store: Store,
    pub store_settings: StoreSettings,
    pub serve_settings: ServeSettings,
    /// An operator token: the client sends it with every request unless a test sends
    /// another (`get_as`, `post_as`).
    pub operator_token: String,
    database_name: Option<String>,
    directory: Option<tempfile::TempDir>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

/// A clock stopped at one instant: the server believes it is that day in Kazakhstan.
pub struct FixedClock(pub time::OffsetDateTime);

impl Clock for FixedClock {
    fn now_utc(&self) -> time::OffsetDateTime {
        self.0
    }
}

/// The settings of a test server: a free port, no scheduled jobs, no replica, and a
/// token cache of 200 ms (so that a revocation shows soon).
pub fn serve_settings() -> ServeSettings {
    ServeSettings {
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
    }
}

/// A server whose "today" is `today` (noon in Kazakhstan), for rules that need dates
/// after the machine's today.
pub async fn spawn_app_on(store: Store, today: time::Date) -> TestApp {
    let noon = today
        .with_time(time::macros::time!(12:00))
        .assume_offset(time::macros::offset!(+5));
    spawn_app_with(store, Some(Arc::new(FixedClock(noon)))).await
}

pub async fn spawn_app(store: Store) -> TestApp {
    spawn_app_with(store, None).await
}

/// A server whose webhook deliverer runs with `webhooks` (shortened timeouts, horizon
/// and lease, so that retries, parking and a take-over happen within a test).
pub async fn spawn_app_with_webhooks(store: Store, webhooks: WebhookSettings) -> TestApp {
    spawn_app_configured(store, None, webhooks).await
}

async fn spawn_app_with(store: Store, clock: Option<Arc<dyn Clock>>) -> TestApp {
    spawn_app_configured(store, clock, WebhookSettings::default()).await
}

async fn spawn_app_configured(
    store: Store,
    clock: Option<Arc<dyn Clock>>,
    webhooks: WebhookSettings,
) -> TestApp {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let reference_dir = directory.path().join("reference");
    std::fs::create_dir_all(&reference_dir).unwrap();
    std::fs::write(
        reference_dir.join("exchange_rates.toml"),
        TEST_EXCHANGE_RATES,
    )
    .unwrap();
    let (database_url, database_name) = match store {
        Store::Postgres => {
            let (url, name) = fresh_postgres_database().await;
            (Some(url), Some(name))
        }
        Store::Sqlite => (None, None),
    };
    let store_settings = StoreSettings {
        database_url,
        data_dir: directory.path().join("data"),
    };
    let serve_settings = ServeSettings {
        reference_dir: Some(reference_dir),
        webhooks,
        operator: operator_settings(),
        ..serve_settings()
    };
    let mut app = start(store, store_settings, serve_settings, clock, None).await;
    app.database_name = database_name;
    app.directory = Some(directory);
    app
}

async fn start(
    store: Store,
    store_settings: StoreSettings,
    serve_settings: ServeSettings,
    clock: Option<Arc<dyn Clock>>,
    operator_token: Option<String>,
) -> TestApp {
    let application = match &clock {
        Some(clock) => {
            Application::build_with_clock(&store_settings, &serve_settings, clock.clone()).await
        }
        None => Application::build(&store_settings, &serve_settings).await,
    }
    .expect("the server starts");
    let address = format!("http://{}", application.address());
    let ledger = application.ledger();
    let operator_token = match operator_token {
        Some(token) => token,
        None => {
            api::application::tokens::create(
                ledger.repository(),
                "test-operator",
                api::application::tokens::Role::Operator,
                None,
            )
            .await
            .expect("an operator token")
            .1
        }
    };
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::AUTHORIZATION,
        format!("Bearer {operator_token}").parse().unwrap(),
    );
    let (shutdown, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(application.run_until(async {
        let _ = stopped.await;
    }));
    TestApp {
        clock,
        address,
        client: reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(60))
            .default_headers(headers)
            .build()
            .unwrap(),
        operator_token,
        ledger,
        store,
        store_settings,
        serve_settings,
        database_name: None,
        directory: None,
        shutdown: Some(shutdown),
        server: Some(server),
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn post(&self, path: &str, body: &Value) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .expect("the server answers")
    }

    pub async fn put(&self, path: &str, body: &Value) -> reqwest::Response {
        self.client
            .put(self.url(path))
            .json(body)
            .send()
            .await
            .expect("the server answers")
    }

    pub async fn delete(&self, path: &str, body: &Value) -> reqwest::Response {
        self.client
            .delete(self.url(path))
            .json(body)
            .send()
            .await
            .expect("the server answers")
    }

    pub async fn post_raw(
        &self,
        path: &str,
        content_type: Option<&str>,
        body: impl Into<reqwest::Body>,
    ) -> reqwest::Response {
        let mut request = self.client.post(self.url(path)).body(body);
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        request.send().await.expect("the server answers")
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("the server answers")
    }

    /// A request sent with exactly this `Authorization` header (`None`: none at all),
    /// not the operator token the client sends by default.
    pub async fn send_as(
        &self,
        method: reqwest::Method,
        path: &str,
        authorization: Option<&str>,
        body: Option<&Value>,
    ) -> reqwest::Response {
        let mut request = reqwest::Client::new().request(method, self.url(path));
        if let Some(value) = authorization {
            request = request.header(reqwest::header::AUTHORIZATION, value);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        request.send().await.expect("the server answers")
    }

    /// A new token with this role (and, for the participant role, its agreement).
    pub async fn token(
        &self,
        role: api::application::tokens::Role,
        name: &str,
        participant: Option<&str>,
    ) -> String {
        let participant = participant.map(|p| events::ParticipantId::parse(p).unwrap());
        api::application::tokens::create(self.ledger.repository(), name, role, participant.as_ref())
            .await
            .expect("a token")
            .1
    }

    pub async fn get_json(&self, path: &str) -> Value {
        let response = self.get(path).await;
        assert_eq!(response.status(), 200, "GET {path}");
        response.json().await.unwrap()
    }

    pub async fn event_count(&self) -> i64 {
        self.ledger
            .repository()
            .count_events()
            .await
            .expect("the store answers")
    }

    /// Events of the reference stream (the shipped tables recorded at first start, and
    /// the versions published since).
    pub async fn reference_event_count(&self) -> i64 {
        self.ledger
            .repository()
            .reference_last_sequence()
            .await
            .expect("the store answers")
    }

    /// Events of the agreements only.
    pub async fn agreement_event_count(&self) -> i64 {
        self.event_count().await - self.reference_event_count().await
    }

    pub async fn events(&self, participant: &str) -> Vec<Value> {
        let response = self
            .get(&format!("/v1/agreements/{participant}/events"))
            .await;
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }

    pub async fn event_types(&self, participant: &str) -> Vec<String> {
        self.events(participant)
            .await
            .iter()
            .map(|e| e["type"].as_str().unwrap().to_owned())
            .collect()
    }

    /// Registers and signs an agreement (KZT, resident) dated in January 2026.
    pub async fn signed_agreement(&self, participant: &str) {
        let response = self
            .post("/v1/agreements", &registration(participant))
            .await;
        assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
        let response = self
            .post(
                &format!("/v1/agreements/{participant}/signature"),
                &json!({"signed_on": "2026-01-06"}),
            )
            .await;
        assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    }

    /// A second server on the same store (another process would behave the same: it
    /// shares nothing with the first but the database), with the same operator token.
    /// Finish it before the first.
    pub async fn second_server(&self) -> TestApp {
        start(
            self.store,
            self.store_settings.clone(),
            self.serve_settings.clone(),
            self.clock.clone(),
            Some(self.operator_token.clone()),
        )
        .await
    }

    /// Stops the server, keeping the database, and starts a new one on it.
    pub async fn restart(mut self) -> TestApp {
        self.stop_server().await;
        let mut restarted = start(
            self.store,
            self.store_settings.clone(),
            self.serve_settings.clone(),
            self.clock.clone(),
            Some(self.operator_token.clone()),
        )
        .await;
        restarted.database_name = self.database_name.take();
        restarted.directory = self.directory.take();
        restarted
    }

    /// [`Self::restart`] with the clock moved to `today` (noon in Kazakhstan).
    pub async fn restart_on(mut self, today: time::Date) -> TestApp {
        let noon = today
            .with_time(time::macros::time!(12:00))
            .assume_offset(time::macros::offset!(+5));
        self.clock = Some(Arc::new(FixedClock(noon)));
        self.restart().await
    }

    /// Stops the server (gracefully: requests in flight finish, its webhook lease is
    /// given up), keeping the database; `finish` still drops it.
    pub async fn stop(&mut self) {
        self.stop_server().await;
    }

    async fn stop_server(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
    }

    /// Stops the server and drops the test database.
    pub async fn finish(mut self) {
        self.stop_server().await;
        if let Some(name) = self.database_name.take() {
            drop_postgres_database(&name).await;
        }
    }
}

/// A valid registration body.
/// The operator's details the test servers are configured with (its ESF's seller).
pub fn operator_settings() -> api::settings::OperatorSettings {
    api::settings::OperatorSettings {
        operator_bin: Some("050140000656".to_owned()),
        operator_name: Some("ТОО «Оператор E-DOC»".to_owned()),
        operator_address: Some("г. Астана, пр. Мангилик Ел, 55".to_owned()),
        operator_iik: Some("KZ926010131000112233".to_owned()),
        operator_bik: Some("HSBKKZKX".to_owned()),
        operator_kbe: Some("17".to_owned()),
    }
}

pub fn registration(participant: &str) -> Value {
    json!({
        "participant_id": participant,
        "name": "ТОО «Ромашка»",
        "kind": "legal_entity",
        "resident": true,
        "currency": "KZT",
        "email": "buh@romashka.kz",
        "registered_on": "2026-01-05"
    })
}

/// A subscription invoice of `unit_price` net (VAT 16% in 2026 added).
pub fn invoice(issued_on: &str, unit_price: &str) -> Value {
    json!({
        "kind": "subscription",
        "issued_on": issued_on,
        "lines": [{"description": "E-DOC subscription", "quantity": 1, "unit_price": unit_price}]
    })
}

/// Makes `n` distinct valid BIN/IINs (12 digits with a valid control digit).
pub fn participant_ids(n: usize) -> Vec<String> {
    let mut ids = Vec::with_capacity(n);
    let mut prefix: u64 = 26_010_140_000;
    while ids.len() < n {
        prefix += 1;
        for digit in 0..10 {
            let candidate = format!("{prefix:011}{digit}");
            if events::ParticipantId::parse(&candidate).is_ok() {
                ids.push(candidate);
                break;
            }
        }
    }
    ids
}

#[allow(dead_code)]
pub fn data_dir(app: &TestApp) -> PathBuf {
    app.store_settings.data_dir.clone()
}

/// A version of the `Стандарт` tariff (BILLING.md 2): `fee` a month in KZT, 100
/// documents included, 50.00 KZT a document beyond.
pub fn tariff_version(effective_from: &str, fee: &str) -> Value {
    json!({
        "name": "Стандарт",
        "effective_from": effective_from,
        "fees": {"KZT": fee, "USD": "10.00"},
        "included": {"documents": 100},
        "overage": {"documents": {"KZT": "50.00", "USD": "0.10"}}
    })
}

/// Runs `sql` on the app's database, whichever it is (behind the ledger's back: for
/// tests that tamper or simulate a crash); the rows it changed.
pub async fn run_sql(app: &TestApp, sql: &str) -> u64 {
    match app.ledger.repository().location().clone() {
        api::store::StoreLocation::Postgres(url) => {
            let pool = sqlx::PgPool::connect(&url).await.unwrap();
            let done = sqlx::query(sql).execute(&pool).await.unwrap();
            pool.close().await;
            done.rows_affected()
        }
        api::store::StoreLocation::Sqlite(path) => {
            let options = sqlx::sqlite::SqliteConnectOptions::new().filename(path);
            let pool = sqlx::SqlitePool::connect_with(options).await.unwrap();
            let done = sqlx::query(sql).execute(&pool).await.unwrap();
            pool.close().await;
            done.rows_affected()
        }
    }
}
