//! Crash test (issue 7, point 3), on PostgreSQL: the server under concurrent command load
//! (payments and usage invoices) is killed with SIGKILL at several moments; after each
//! restart every command that had been acknowledged (2xx) is in the store exactly once (an
//! invoice under the number it was answered with), invoice numbers stay gapless, the hash
//! chains verify, and the stored projections equal a replay of the events (nothing
//! half-applied).

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::common::{self, cli, drop_database, fresh_database, participant_ids};

const BINARY: &str = env!("CARGO_BIN_EXE_edoc-ledger");
/// Agreements the load spreads over, and clients sending at once.
const AGREEMENTS: usize = 8;
const CLIENTS: usize = 16;
/// Each round's SIGKILL comes once this many payments have been acknowledged in the
/// round, plus a random 0-19 ms, so it lands among requests in flight.
const KILL_AFTER_ACKNOWLEDGED: [usize; 4] = [1, 25, 100, 300];

/// A command the server answered 201, by the reference the test gave it.
#[derive(Debug, Clone)]
enum Acknowledged {
    Payment {
        reference: String,
    },
    /// A usage invoice whose one line is described by the reference, with its number.
    Invoice {
        reference: String,
        number: String,
    },
}

/// A running server, killed when dropped (so a failing test leaves no process behind).
struct Server(Child);

impl Server {
    fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

async fn start(database_url: &str, client: &reqwest::Client) -> (Server, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(BINARY)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .env("DATABASE_URL", database_url)
        .env("EDOC_LOG", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("edoc-ledger serves");
    let child = Server(child);
    let base = format!("http://127.0.0.1:{port}");
    common::wait_until_serving(
        client,
        &base,
        Duration::from_secs(30),
        "the server did not start",
    )
    .await;
    (child, base)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_commands_survive_sigkill_exactly_once() {
    let (url, name) = fresh_database().await;
    assert_eq!(cli(&url, &["migrate"]).0, 0);
    let (code, token) = cli(
        &url,
        &[
            "token",
            "create",
            "--role",
            "operator",
            "--name",
            "crash-test",
        ],
    );
    assert_eq!(code, 0, "{token}");
    let token = token.lines().next().unwrap().trim().to_owned();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let ids = participant_ids(50_000_000_000, AGREEMENTS);

    let (mut server, mut base) = start(&url, &client).await;
    for id in &ids {
        for (path, body) in [
            (
                "/v1/agreements".to_owned(),
                json!({"participant_id": id, "name": "ТОО «Участник»", "kind": "legal_entity", "resident": true, "currency": "KZT", "email": "buh@example.kz", "registered_on": "2026-01-05"}),
            ),
            (
                format!("/v1/agreements/{id}/signature"),
                json!({"signed_on": "2026-01-06"}),
            ),
            (
                format!("/v1/agreements/{id}/invoices"),
                json!({"kind": "subscription", "issued_on": "2026-02-02", "lines": [{"description": "E-DOC", "quantity": 1, "unit_price": "1000000.00"}]}),
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

    // Acknowledged commands, by agreement.
    let mut acknowledged: BTreeMap<String, Vec<Acknowledged>> = BTreeMap::new();
    for (round, kill_after) in KILL_AFTER_ACKNOWLEDGED.iter().enumerate() {
        let acknowledged_in_round = Arc::new(AtomicUsize::new(0));
        let cut_off = Arc::new(AtomicUsize::new(0));
        let mut load = Vec::new();
        for client_number in 0..CLIENTS {
            let (client, base, token, ids) =
                (client.clone(), base.clone(), token.clone(), ids.clone());
            let (acknowledged_in_round, cut_off) = (acknowledged_in_round.clone(), cut_off.clone());
            load.push(tokio::spawn(async move {
                let mut done = Vec::new();
                for n in 0.. {
                    let id = &ids[(client_number + n) % ids.len()];
                    let reference = format!("R{round}-C{client_number}-N{n}");
                    // One client in four issues usage invoices (the operator-wide gapless
                    // counter, §5.3), the others post payments.
                    let issues_invoices = client_number % 4 == 3;
                    let (path, body) = if issues_invoices {
                        ("invoices", json!({"kind": "usage", "issued_on": "2026-02-05", "lines": [{"description": reference, "quantity": 1, "unit_price": "10.00"}]}))
                    } else {
                        ("payments", json!({"reference": reference, "received_on": "2026-02-05", "amount": "1.00"}))
                    };
                    match client.post(format!("{base}/v1/agreements/{id}/{path}")).bearer_auth(&token).json(&body).send().await {
                        Ok(response) if response.status().as_u16() == 201 => {
                            let answer: Value = match response.json().await {
                                Ok(answer) => answer,
                                Err(_) => { cut_off.fetch_add(1, Ordering::SeqCst); break; }
                            };
                            let acknowledged = if issues_invoices {
                                Acknowledged::Invoice { reference, number: answer["number"].as_str().unwrap().to_owned() }
                            } else {
                                Acknowledged::Payment { reference }
                            };
                            done.push((id.clone(), acknowledged));
                            acknowledged_in_round.fetch_add(1, Ordering::SeqCst);
                        }
                        Ok(response) => panic!("{reference} answered {} before the kill", response.status()),
                        Err(_) => {
                            // The server is gone: this request was in flight or refused.
                            cut_off.fetch_add(1, Ordering::SeqCst);
                            break;
                        }
                    }
                }
                done
            }));
        }
        let waiting = Instant::now();
        while acknowledged_in_round.load(Ordering::SeqCst) < *kill_after {
            assert!(
                waiting.elapsed() < Duration::from_secs(60),
                "round {round}: the load did not get going"
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let jitter = random_below(20);
        tokio::time::sleep(Duration::from_millis(jitter)).await;
        server.kill(); // SIGKILL
        for task in load {
            for (id, answered) in task.await.unwrap() {
                acknowledged.entry(id).or_default().push(answered);
            }
        }
        // Restart on the same store: everything acknowledged is there, once.
        let (restarted, restarted_base) = start(&url, &client).await;
        server = restarted;
        let base_now = restarted_base;
        let mut recorded_in_all = 0;
        let mut invoice_numbers = Vec::new();
        for id in &ids {
            let events = common::get_json(
                &client,
                &format!("{base_now}/v1/agreements/{id}/events"),
                &token,
            )
            .await;
            // What the store holds, by reference: how many times, and under which number.
            let mut recorded: BTreeMap<String, Vec<Option<String>>> = BTreeMap::new();
            for event in events.as_array().unwrap() {
                let payload = &event["payload"];
                if event["type"] == "PaymentReceived" {
                    let reference = payload["reference"].as_str().unwrap();
                    recorded.entry(reference.to_owned()).or_default().push(None);
                }
                if event["type"] == "InvoiceIssued" {
                    let number = payload["number"].as_str().unwrap().to_owned();
                    invoice_numbers.push(number.parse::<u64>().unwrap());
                    let reference = payload["lines"][0]["description"].as_str().unwrap();
                    recorded
                        .entry(reference.to_owned())
                        .or_default()
                        .push(Some(number));
                }
            }
            recorded_in_all += recorded
                .keys()
                .filter(|reference| reference.starts_with('R'))
                .count();
            for (reference, times) in &recorded {
                assert_eq!(
                    times.len(),
                    1,
                    "round {round}: {id} {reference} recorded {} times",
                    times.len()
                );
            }
            for acknowledged in acknowledged.get(id).map(Vec::as_slice).unwrap_or_default() {
                let (reference, number) = match acknowledged {
                    Acknowledged::Payment { reference } => (reference, None),
                    Acknowledged::Invoice { reference, number } => {
                        (reference, Some(number.clone()))
                    }
                };
                assert_eq!(
                    recorded.get(reference),
                    Some(&vec![number]),
                    "round {round}: {id} {reference} acknowledged, not recorded once as answered"
                );
            }
        }
        // Invoice numbers stay unique and gapless across the kill (§5.3).
        invoice_numbers.sort_unstable();
        let expected: Vec<u64> = (1..=invoice_numbers.len() as u64).collect();
        assert_eq!(
            invoice_numbers, expected,
            "round {round}: invoice numbers with a gap or a repeat"
        );
        server.kill();
        let (code, verified) = cli(&url, &["verify"]);
        assert_eq!(code, 0, "round {round}: {verified}");
        let (code, checked) = cli(&url, &["replay", "--check"]);
        assert_eq!(code, 0, "round {round}: {checked}");
        // The next round loads a server started again.
        let (next, next_base) = start(&url, &client).await;
        server = next;
        base = next_base;
        let acknowledged_in_all = acknowledged.values().map(Vec::len).sum::<usize>();
        println!(
            "round {round}: SIGKILL {jitter} ms after acknowledgement no. {kill_after}; {} acknowledged in the round, {acknowledged_in_all} in all, each recorded once; {} recorded whose answer the kill cut off; {} clients cut off; verify ok, replay --check ok",
            acknowledged_in_round.load(Ordering::SeqCst),
            recorded_in_all - acknowledged_in_all,
            cut_off.load(Ordering::SeqCst),
        );
    }
    server.kill();
    drop_database(&name).await;
}

/// A random number below `bound`, from the operating system (the kill moment).
fn random_below(bound: u64) -> u64 {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).expect("the OS gives random bytes");
    u64::from_le_bytes(bytes) % bound
}
