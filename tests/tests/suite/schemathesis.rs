//! A real external client as a test (issue 6): schemathesis, from PyPI, fuzzes every
//! operation of the served OpenAPI document against the running server, on both stores:
//! no 5xx, and every answer conforms to the documented schema, status and content type.
//! `tests/schemathesis/run.sh` installs it on first use; without Python or PyPI the test
//! fails and says so.

use std::process::Command;

use crate::helpers::{spawn_app, Store};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_no_server_error_and_no_schema_violation() {
    // Both stores at once: each run is one Python process waiting on its own server, so
    // side by side they take the time of one (issue 14: the test command's time).
    let runs = [Store::Postgres, Store::Sqlite].map(|store| tokio::spawn(fuzz_store(store)));
    for run in runs {
        run.await.expect("the schemathesis run finishes");
    }
}

async fn fuzz_store(store: Store) {
    let app = spawn_app(store).await;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/schemathesis/run.sh");
    let (address, token) = (app.address.clone(), app.operator_token.clone());
    let output = tokio::task::spawn_blocking(move || {
        Command::new("bash")
            .arg(script)
            .args([&address, &token, "40"])
            .output()
            .expect("bash runs")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{store:?}:\n{stdout}\n{stderr}");
    assert!(
        output.status.success(),
        "{store:?}: schemathesis failed (exit {:?}):\n{}\n{stderr}",
        output.status.code(),
        stdout
            .lines()
            .rev()
            .take(60)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<Vec<_>>()
            .join("\n")
    );
    app.finish().await;
}
