//! The workspace's shape (issue 14): no two modules of one crate import each other in a
//! circle, and inside `api` every import points down the layers (http -> application ->
//! store), both checked by `.ci/module_cycles.py` (known circles being taken apart are
//! listed there and only reported); the server library (`api`) depends on no load
//! generator.

#[test]
fn no_new_circle_between_the_modules_of_a_crate() {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../.ci/module_cycles.py");
    let output = std::process::Command::new("python3")
        .arg(&script)
        .output()
        .expect("python3 runs (the test command needs it for schemathesis too)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    println!("{stdout}{}", String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "{stdout}");
    assert!(stdout.contains("no new circle"), "{stdout}");
}

/// Inside `api`, handlers call the application layer only and nothing below imports what
/// is above (the script's LAYERS; a module without a layer fails).
#[test]
fn every_import_of_the_server_library_points_down_its_layers() {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../.ci/module_cycles.py");
    let output = std::process::Command::new("python3")
        .arg(&script)
        .output()
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("module layers: every import points down"),
        "{stdout}"
    );
}

/// The server library depends on no load generator (issue 14): the HTTP client and the
/// progress bars of `edoc-ledger bench` and `load` are the `bench` and `cli` crates'.
#[test]
fn the_server_library_depends_on_no_load_generator() {
    let manifest = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../api/Cargo.toml");
    let manifest = std::fs::read_to_string(&manifest).expect("api/Cargo.toml");
    // The names under [dependencies] (`name.workspace = true`, `name = ...`), and those
    // of [dependencies.name] tables.
    let mut dependencies: Vec<&str> = Vec::new();
    for section in manifest.split("\n[") {
        if let Some(table) = section.strip_prefix("dependencies.") {
            dependencies.extend(table.split(']').next());
        } else if let Some(body) = section.strip_prefix("dependencies]") {
            dependencies.extend(
                body.lines()
                    .filter_map(|line| line.split(['=', '.']).next().map(str::trim))
                    .filter(|name| !name.is_empty() && !name.starts_with('#')),
            );
        }
    }
    assert!(dependencies.contains(&"axum"), "{dependencies:?}");
    for load_generator in ["reqwest", "indicatif"] {
        assert!(
            !dependencies.contains(&load_generator),
            "api depends on {load_generator}: {dependencies:?}"
        );
    }
}
