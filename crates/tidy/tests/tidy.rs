//! ARCHITECTURE.md's checkable sentences, checked against the tree: when a manifest or a
//! module changes what the document says, this fails and names the sentence to update.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use cordium_tidy::{architecture_rows, manifest_dependencies, sibling_package};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every folder under `crates/` that holds a `Cargo.toml`.
fn crate_folders() -> BTreeSet<String> {
    fs::read_dir(root().join("crates"))
        .expect("crates/")
        .filter_map(|entry| {
            let entry = entry.ok()?;
            entry
                .path()
                .join("Cargo.toml")
                .is_file()
                .then(|| format!("crates/{}", entry.file_name().to_string_lossy()))
        })
        .collect()
}

/// The `.rs` files below `dir`, recursively.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|ext| ext == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// "| crate | what it owns | depends on |": one row per crate, and each row's sibling crates
/// are exactly the manifest's, and each external crate it names is a real dependency.
#[test]
fn architecture_table_matches_every_manifest() {
    let architecture = read(&root().join("ARCHITECTURE.md"));
    let rows = architecture_rows(&architecture);
    let documented: BTreeSet<String> = rows.iter().map(|row| row.folder.clone()).collect();
    assert_eq!(
        documented,
        crate_folders(),
        "ARCHITECTURE.md's table must list every crate once"
    );

    let siblings: BTreeSet<String> = crate_folders()
        .iter()
        .map(|folder| sibling_package(folder.trim_start_matches("crates/")))
        .collect();
    for row in rows {
        let manifest = manifest_dependencies(&read(&root().join(&row.folder).join("Cargo.toml")));
        let actual_siblings: BTreeSet<&String> = manifest
            .iter()
            .filter(|name| siblings.contains(*name))
            .collect();
        let mut documented_siblings = BTreeSet::new();
        for name in &row.depends_on {
            let package = sibling_package(name);
            if siblings.contains(&package) {
                documented_siblings.insert(package);
            } else {
                assert!(
                    manifest.contains(name),
                    "ARCHITECTURE.md says {} depends on `{name}`, but its Cargo.toml does not",
                    row.folder
                );
            }
        }
        let documented_siblings: BTreeSet<&String> = documented_siblings.iter().collect();
        assert_eq!(
            actual_siblings, documented_siblings,
            "{}: the Cargo.toml's cordium crates (left) differ from ARCHITECTURE.md's (right)",
            row.folder
        );
    }
}

/// Words whose presence in a pure module means it touches the outside world: the file system,
/// the network, the environment, processes, the clock, or async.
const IMPURE: &[&str] = &[
    "std::fs",
    "std::net",
    "std::env",
    "std::process",
    "SystemTime",
    "Instant",
    "tokio",
    "async ",
    ".await",
    "std::io::stdin",
    "std::io::stdout",
];

fn assert_pure(file: &Path) {
    let text = read(file);
    for word in IMPURE {
        assert!(
            !text.contains(word),
            "{} is a pure module (ARCHITECTURE.md) but mentions `{word}`",
            file.display()
        );
    }
}

/// "The core crates (`spec`, `vars`, `merge`) are pure and synchronous: no file system,
/// network, environment, clock or async."
#[test]
fn core_crates_are_pure() {
    for folder in ["crates/spec", "crates/vars", "crates/merge"] {
        for file in rust_files(&root().join(folder).join("src")) {
            assert_pure(&file);
        }
    }
}

/// "The provisioner's pure half: `state`, `fresh`, `plan`."
#[test]
fn provisioner_pure_modules_are_pure() {
    for module in ["state", "fresh", "plan"] {
        let file = root()
            .join("crates/provisioner/src")
            .join(format!("{module}.rs"));
        let dir = root().join("crates/provisioner/src").join(module);
        if file.is_file() {
            assert_pure(&file);
        }
        if dir.is_dir() {
            rust_files(&dir).iter().for_each(|file| assert_pure(file));
        }
        assert!(
            file.is_file() || dir.is_dir(),
            "crates/provisioner/src/{module} is gone"
        );
    }
}

/// "Only `server`, the provisioner's async half, `kubernetes` and the CLI's client commands use
/// tokio."
#[test]
fn only_the_edges_depend_on_tokio() {
    let users: BTreeSet<String> = crate_folders()
        .into_iter()
        .filter(|folder| {
            manifest_dependencies(&read(&root().join(folder).join("Cargo.toml"))).contains("tokio")
        })
        .collect();
    let allowed: BTreeSet<String> = [
        "crates/cli",
        "crates/kubernetes",
        "crates/provisioner",
        "crates/server",
    ]
    .map(String::from)
    .into();
    assert!(
        users.is_subset(&allowed),
        "tokio is used by {users:?}; ARCHITECTURE.md allows {allowed:?}"
    );
}

/// The core crates' clippy configuration (which denies IO methods and types) is one file in
/// three places: clippy reads the one beside each manifest, and they must not drift apart.
#[test]
fn core_crates_share_one_clippy_toml() {
    let merge = read(&root().join("crates/merge/clippy.toml"));
    for folder in ["crates/spec", "crates/vars"] {
        assert_eq!(
            read(&root().join(folder).join("clippy.toml")),
            merge,
            "{folder}/clippy.toml differs from crates/merge/clippy.toml"
        );
    }
    for banned in [
        "std::fs::read_to_string",
        "std::env::var",
        "std::net::TcpStream",
        "std::time::Instant",
    ] {
        assert!(
            merge.contains(banned),
            "crates/merge/clippy.toml no longer bans {banned}"
        );
    }
}

/// The most lines a module may have before its tests: a module owns one idea, and one that
/// grows past this holds two (the house style; issue 13's rule).
const MAX_MODULE_LINES: usize = 700;

/// "Small modules that own one idea": no source module is longer than [`MAX_MODULE_LINES`],
/// not counting its `#[cfg(test)]` module.
#[test]
fn no_module_is_over_700_lines_before_its_tests() {
    let mut long = Vec::new();
    for folder in crate_folders() {
        let src = root().join(&folder).join("src");
        if !src.is_dir() {
            continue;
        }
        for file in rust_files(&src) {
            let text = read(&file);
            let lines = text
                .lines()
                .take_while(|line| !line.starts_with("#[cfg(test)]"))
                .count();
            if lines > MAX_MODULE_LINES {
                long.push(format!("{} ({lines} lines)", file.display()));
            }
        }
    }
    assert!(long.is_empty(), "split these modules: {long:#?}");
}
