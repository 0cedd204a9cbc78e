//! The Patroni failover (issue 20, INTEGRATION.md 4) in the test suite: runs
//! `tests/cluster/failover.sh` with this build's binary and a shorter load, and passes
//! when the script ends with "acknowledged lost: 0" (it exits non-zero otherwise: a 5xx
//! other than 503 while switching, a server that does not serve again, a payment
//! acknowledged but not recorded exactly once, `verify` or `replay --check` failing). It
//! fails, saying how to install them, when patroni or etcd are missing.

use std::process::Command;

#[test]
fn the_primary_dies_under_load_and_nothing_acknowledged_is_lost() {
    for (program, package) in [("patroni", "patroni"), ("etcd", "etcd-server")] {
        let found = Command::new("sh")
            .args(["-c", &format!("command -v {program}")])
            .output()
            .is_ok_and(|o| o.status.success());
        assert!(
            found,
            "{program} is missing: `apt-get install {package}` (.ci/run installs it)"
        );
    }
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/cluster/failover.sh");
    let output = Command::new("bash")
        .arg(script)
        .env("EDOC_LEDGER_BIN", env!("CARGO_BIN_EXE_edoc-ledger"))
        .env("LOAD_SECONDS", "30")
        .env("KILL_AFTER", "10")
        .output()
        .expect("bash runs the script");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    assert!(
        output.status.success(),
        "failover.sh failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    assert_eq!(
        stdout.lines().last(),
        Some("acknowledged lost: 0"),
        "{stdout}"
    );
}
