//! The auditor's guide works as written: the walk at the end of docs/audit.md is run
//! with this build's `edoc-ledger` on the PATH (SQLite in a temporary directory, a free
//! port instead of 8081), and what the guide says it prints is checked.

use std::process::Command;

const BINARY: &str = env!("CARGO_BIN_EXE_edoc-ledger");

/// The shell block that follows `heading` in `markdown`.
fn block_after(markdown: &str, heading: &str) -> String {
    let section = &markdown[markdown.find(heading).expect("the walk's heading")..];
    let start = section.find("```sh\n").expect("a sh block") + "```sh\n".len();
    let end = section[start..].find("```").expect("the block's end");
    section[start..start + end].to_owned()
}

#[test]
fn the_walk_of_the_auditors_guide_runs_as_written() {
    let guide = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/audit.md"))
        .expect("docs/audit.md");
    let walk = block_after(&guide, "## A walk from start to finish");
    let directory =
        std::env::temp_dir().join(format!("edoc-guide-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&directory).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let script = walk
        .replace("/tmp/walk", &format!("{}/walk", directory.display()))
        .replace("8081", &port.to_string());
    let bin_dir = std::path::Path::new(BINARY).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let output = Command::new("bash")
        .args(["-euo", "pipefail", "-c", &script])
        .env("PATH", path)
        .env("EDOC_LOG", "warn")
        .env_remove("DATABASE_URL")
        .output()
        .expect("bash runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}\n{stderr}");
    assert!(output.status.success(), "the walk failed: {stderr}");
    for said in [
        "\"explanation\":{\"invoiced\":",
        "ok: no event was altered, removed or reordered",
        "kept digest (2 heads matched)",
        "reference tables: the export's reference stream",
        "\"penalties_accrued\":\"580.00\"",
        "\"fines_accrued\":\"8650.00\"",
        "equals the export's",
        "no difference",
    ] {
        assert!(
            stdout.contains(said) || stderr.contains(said),
            "the guide says the walk prints `{said}`"
        );
    }
    std::fs::remove_dir_all(&directory).ok();
}
