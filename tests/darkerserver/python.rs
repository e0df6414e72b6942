//! darkerserver's own unit tests (Python, standard library only), run by `cargo test`.

use std::process::Command;

use crate::helpers::root;

#[test]
fn python_unit_tests_pass() {
    let output = Command::new("python3")
        .args(["-m", "unittest", "discover", "-s", "integrations/darkerserver"])
        .current_dir(root())
        // The tests set up their own relay environment; a developer's must not leak in.
        .env_remove("WECOM_RELAY_URL")
        .env_remove("WECOM_RELAY_TOKEN")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .expect("python3 runs (the darkerserver tests need Python 3.8+)");
    assert!(
        output.status.success(),
        "python3 -m unittest discover -s integrations/darkerserver failed ({}):\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
