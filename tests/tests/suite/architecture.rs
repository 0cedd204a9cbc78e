//! The workspace's shape (issue 14): no two modules of one crate import each other in a
//! circle, checked by `.ci/module_cycles.py` (known circles being taken apart are listed
//! there and only reported).

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
