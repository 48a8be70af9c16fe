//! Golden tests: runs the real `cordium` binary over the compile cases in `fixtures/compile`.
//!
//! `CORDIUM_BLESS=1 cargo test -p cordium-cli --test golden` rewrites the expectations from the
//! current output instead of comparing (then read every changed file before committing it).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/compile")
}

fn cordium(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cordium"))
        .args(args)
        .arg(dir)
        .env("NO_COLOR", "1")
        .output()
        .expect("the cordium binary runs")
}

fn case_count(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .expect("the cases folder exists")
        .filter_map(Result::ok)
        .filter(|e| e.path().is_dir())
        .count()
}

#[test]
fn every_compile_case_passes() {
    let dir = cases_dir();
    let bless = std::env::var_os("CORDIUM_BLESS").is_some_and(|v| v == "1");
    let args: &[&str] = if bless {
        &["test", "--bless"]
    } else {
        &["test"]
    };
    let output = cordium(args, &dir);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "cordium test failed:\n{stdout}\n{stderr}"
    );
    let count = case_count(&dir);
    assert!(count >= 45, "only {count} cases");
    let summary = format!("{count} passed, 0 failed");
    assert!(stdout.contains(&summary), "no `{summary}` in:\n{stdout}");
}

#[test]
fn a_wrong_expectation_fails_with_a_unified_diff() {
    let source = cases_dir().join("20-env-keyed-not-concatenated");
    let root = tempfile::tempdir().expect("a temporary folder");
    let case = root.path().join("20-env-keyed-not-concatenated");
    std::fs::create_dir(&case).expect("the case folder is created");
    for entry in std::fs::read_dir(&source).expect("the case exists") {
        let path = entry.expect("a readable entry").path();
        let name = path.file_name().expect("a file name");
        std::fs::copy(&path, case.join(name)).expect("the file is copied");
    }
    let expected = case.join("expected.yaml");
    let text = std::fs::read_to_string(&expected).expect("the case has an expected.yaml");
    assert!(
        text.contains("      value: w\n"),
        "unexpected expectation:\n{text}"
    );
    std::fs::write(
        &expected,
        text.replace("      value: w\n", "      value: edited\n"),
    )
    .expect("the expectation is edited");

    let output = cordium(&["test"], root.path());
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(1),
        "exit code of a failing case:\n{stdout}"
    );
    assert!(
        stdout.contains("test 20-env-keyed-not-concatenated ... FAILED"),
        "{stdout}"
    );
    assert!(
        stdout.contains("--- expected.yaml") && stdout.contains("+++ actual"),
        "no diff header:\n{stdout}"
    );
    assert!(
        stdout.lines().any(|l| l.starts_with("@@")),
        "no hunk:\n{stdout}"
    );
    assert!(
        stdout.lines().any(|l| l == "-      value: edited"),
        "no `-` line:\n{stdout}"
    );
    assert!(
        stdout.lines().any(|l| l == "+      value: w"),
        "no `+` line:\n{stdout}"
    );
    assert!(
        stdout.contains("0 passed, 1 failed"),
        "no summary:\n{stdout}"
    );
    // The expectation is left as it was: only --bless writes.
    let after = std::fs::read_to_string(&expected).expect("the expectation is still there");
    assert!(after.contains("      value: edited\n"));
}
