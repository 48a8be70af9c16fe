//! Tidy checks: the statements of ARCHITECTURE.md that a program can verify, verified by
//! `cargo test -p cordium-tidy` against the tree as it is (rust-analyzer's `tidy.rs` habit).
//!
//! The checks live in `tests/tidy.rs`; this library only reads the two documents they compare,
//! a crate's `Cargo.toml` and ARCHITECTURE.md's table of crates, without a TOML or Markdown
//! dependency: both are read line by line, in the narrow shapes this repository writes them.

use std::collections::BTreeSet;

/// The names a manifest lists under `[dependencies]` (not dev- or build-dependencies): what
/// the crate's library and binaries may use, which is what ARCHITECTURE.md's table speaks of.
pub fn manifest_dependencies(manifest: &str) -> BTreeSet<String> {
    let mut in_dependencies = false;
    let mut names = BTreeSet::new();
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            in_dependencies = line == "[dependencies]";
            continue;
        }
        if !in_dependencies || line.is_empty() || line.starts_with('#') {
            continue;
        }
        // `name = ...`, `name.workspace = true`, `name = { ... }`.
        let key = line.split(['=', '.']).next().unwrap_or_default().trim();
        if !key.is_empty() {
            names.insert(key.to_owned());
        }
    }
    names
}

/// One row of ARCHITECTURE.md's table of crates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrateRow {
    /// The crate's folder, as the first column writes it (`crates/spec`).
    pub folder: String,
    /// The "depends on" column, split at commas: sibling crates by their short name
    /// (`spec`, `merge`) and external crates by their crates.io name.
    pub depends_on: Vec<String>,
}

/// The rows of the table whose first column names a folder under `crates/`.
pub fn architecture_rows(architecture: &str) -> Vec<CrateRow> {
    architecture
        .lines()
        .filter_map(|line| {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            // `| folder | what it owns | depends on |` splits into five cells.
            let [_, folder, _, depends_on, _] = cells.as_slice() else {
                return None;
            };
            let folder = folder.split('`').nth(1)?;
            folder.starts_with("crates/").then(|| CrateRow {
                folder: folder.to_owned(),
                depends_on: depends_on
                    .split(',')
                    .map(|name| name.trim().trim_matches('`').to_owned())
                    .filter(|name| !name.is_empty() && name != "none")
                    .collect(),
            })
        })
        .collect()
}

/// The package name of a sibling crate given by its short name in the table (`spec` is
/// `cordium-spec`).
pub fn sibling_package(short_name: &str) -> String {
    format!("cordium-{short_name}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_only_normal_dependencies() {
        let manifest = "[package]\nname = \"x\"\n\n[dependencies]\n# a comment\nserde.workspace = true\ntokio = { workspace = true }\nfoo = \"1\"\n\n[dev-dependencies]\nproptest.workspace = true\n";
        let names: Vec<_> = manifest_dependencies(manifest).into_iter().collect();
        assert_eq!(names, ["foo", "serde", "tokio"]);
    }

    #[test]
    fn reads_table_rows_under_crates() {
        let md = "| crate | owns | depends on |\n|---|---|---|\n| `crates/spec` (`cordium-spec`) | parsing | granit-parser, serde |\n| `crates/tidy` (`cordium-tidy`) | checks | none |\n| other | x | y |\n";
        let rows = architecture_rows(md);
        assert_eq!(
            rows,
            [
                CrateRow {
                    folder: "crates/spec".into(),
                    depends_on: vec!["granit-parser".into(), "serde".into()]
                },
                CrateRow {
                    folder: "crates/tidy".into(),
                    depends_on: vec![]
                },
            ]
        );
    }
}
