//! Runs the ```console examples of the repository's README.md against the real `cordium`
//! binary with trycmd, so the documented commands, outputs and exit codes cannot rot.
//!
//! Each block is `$ cordium ARGS`, an optional `? CODE` line, then the expected standard output
//! and standard error merged (trycmd drops the last newline before the closing fence, so a block
//! ends with one blank line). This file holds one test: it sets the process's working directory
//! to the repository root so the README's relative `fixtures/...` paths resolve.

use std::path::PathBuf;

#[test]
fn readme_console_examples_match_the_binary() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("the repository root exists");
    std::env::set_current_dir(&root).expect("can enter the repository root");
    trycmd::TestCases::new()
        .register_bin("cordium", PathBuf::from(env!("CARGO_BIN_EXE_cordium")))
        // The examples show uncoloured output (what a pipe gets); keep a developer's
        // CLICOLOR_FORCE from colouring it.
        .env("NO_COLOR", "1")
        .case(root.join("README.md"))
        .run();
}
