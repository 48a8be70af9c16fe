//! The fixture files under `fixtures/`: every document in `fixtures/valid/` loads without a
//! diagnostic, and every `fixtures/invalid/**/X.yaml` (or `X.json`) reports exactly the
//! diagnostics listed in `X.diagnostics`.
//!
//! A `.diagnostics` file has one line per diagnostic, `CODE PATH LINE:COLUMN` (1-based line and
//! column; `-` for an empty path), in the order `cordium_spec::load` reports them, e.g.
//! `spec::unknown-field spec.runtime.enVars 7:5`.
//!
//! `fixtures/invalid/schema/` holds mistakes a JSON Schema validator also catches,
//! `fixtures/invalid/semantic/` mistakes only our validator catches (`editors.rs` checks both
//! claims with check-jsonschema).
//!
//! To (re)write the `.diagnostics` files: `CORDIUM_BLESS=1 cargo test -p cordium-spec --test it
//! fixtures`, then read every changed file and check each line by hand.

use cordium_spec::{Diagnostic, Kind, Loaded, Resource, SourceId, UserSecretType, load};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The repository root.
pub(crate) fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Every `.yaml`, `.yml` and `.json` file under `fixtures/<dir>`, recursively, sorted.
pub(crate) fn fixture_files(dir: &str) -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let entries =
            std::fs::read_dir(dir).unwrap_or_else(|e| panic!("read {}: {e}", dir.display()));
        for entry in entries {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                walk(&path, out);
            } else if matches!(
                path.extension().and_then(|e| e.to_str()),
                Some("yaml" | "yml" | "json")
            ) {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    walk(&repo().join("fixtures").join(dir), &mut out);
    out.sort();
    assert!(!out.is_empty(), "no fixtures under fixtures/{dir}");
    out
}

/// The path of `file` relative to the repository, for messages.
pub(crate) fn shown(file: &Path) -> String {
    let root = repo().canonicalize().expect("repository root");
    let file = file.canonicalize().unwrap_or_else(|_| file.to_path_buf());
    file.strip_prefix(&root)
        .unwrap_or(&file)
        .display()
        .to_string()
}

/// Loads one fixture file.
pub(crate) fn load_file(file: &Path) -> (String, Loaded) {
    let text =
        std::fs::read_to_string(file).unwrap_or_else(|e| panic!("read {}: {e}", file.display()));
    let loaded = load(&text, SourceId(0));
    (text, loaded)
}

/// One diagnostic as a `.diagnostics` line.
pub(crate) fn line_of(d: &Diagnostic) -> String {
    let path = if d.path.is_empty() {
        "-"
    } else {
        d.path.as_str()
    };
    let (line, column) = d.location.map_or((0, 0), |l| (l.line, l.column));
    format!("{} {path} {line}:{column}", d.code)
}

/// Splits a `.diagnostics` line into `(code, path, line, column)`; the path may hold spaces.
pub(crate) fn parse_line(text: &str) -> Option<(&str, &str, u32, u32)> {
    let (code, rest) = text.split_once(' ')?;
    let (path, place) = rest.rsplit_once(' ')?;
    let (line, column) = place.split_once(':')?;
    Some((code, path, line.parse().ok()?, column.parse().ok()?))
}

/// The `.diagnostics` file beside an invalid fixture.
pub(crate) fn expectation_of(file: &Path) -> PathBuf {
    file.with_extension("diagnostics")
}

/// The expected lines of an invalid fixture (an empty list when the file is missing).
pub(crate) fn expected_lines(file: &Path) -> Vec<String> {
    std::fs::read_to_string(expectation_of(file))
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_owned)
        .collect()
}

fn blessing() -> bool {
    std::env::var_os("CORDIUM_BLESS").is_some()
}

#[test]
fn every_valid_fixture_loads_without_diagnostics() {
    let mut failures = Vec::new();
    for file in fixture_files("valid") {
        let (_, loaded) = load_file(&file);
        if !loaded.diagnostics.is_empty() || loaded.documents.is_empty() {
            let lines: Vec<String> = loaded
                .diagnostics
                .iter()
                .map(|d| format!("    {}  ({})", line_of(d), d.message))
                .collect();
            failures.push(format!(
                "{} ({} documents):\n{}",
                shown(&file),
                loaded.documents.len(),
                lines.join("\n")
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "valid fixtures with diagnostics:\n{}",
        failures.join("\n")
    );
}

#[test]
fn every_invalid_fixture_reports_exactly_its_diagnostics() {
    let mut failures = Vec::new();
    for file in fixture_files("invalid") {
        let (text, loaded) = load_file(&file);
        let found: Vec<String> = loaded.diagnostics.iter().map(line_of).collect();
        if found.is_empty() {
            failures.push(format!(
                "{}: no diagnostics at all; an invalid fixture must have at least one",
                shown(&file)
            ));
            continue;
        }
        // Every diagnostic must point at a token of the file, not at white space or past the end.
        for d in &loaded.diagnostics {
            let Some(loc) = d.location else {
                failures.push(format!(
                    "{}: `{}` has no location",
                    shown(&file),
                    line_of(d)
                ));
                continue;
            };
            let at = text
                .lines()
                .nth(loc.line as usize - 1)
                .and_then(|l| l.chars().nth(loc.column as usize - 1));
            if at.is_none_or(char::is_whitespace) {
                failures.push(format!(
                    "{}: `{}` points at {at:?}, not at a token",
                    shown(&file),
                    line_of(d)
                ));
            }
        }
        if blessing() {
            std::fs::write(expectation_of(&file), found.join("\n") + "\n")
                .expect("write .diagnostics");
            continue;
        }
        let expected = expected_lines(&file);
        if expected != found {
            let messages: Vec<String> = loaded
                .diagnostics
                .iter()
                .map(|d| format!("    {}  ({})", line_of(d), d.message))
                .collect();
            failures.push(format!(
                "{}:\n  expected ({}):\n    {}\n  found:\n{}",
                shown(&file),
                shown(&expectation_of(&file)),
                if expected.is_empty() {
                    "<nothing: the file is missing or empty>".to_owned()
                } else {
                    expected.join("\n    ")
                },
                messages.join("\n"),
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} invalid fixture(s) differ from their .diagnostics (CORDIUM_BLESS=1 rewrites them; review every line):\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

#[test]
fn every_diagnostics_file_belongs_to_a_fixture_and_parses() {
    let fixtures: BTreeSet<PathBuf> = fixture_files("invalid")
        .iter()
        .map(|f| expectation_of(f))
        .collect();
    let mut problems = Vec::new();
    let mut stack = vec![repo().join("fixtures/invalid")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "diagnostics") {
                if !fixtures.contains(&path) {
                    problems.push(format!("{}: no fixture beside it", shown(&path)));
                }
                for line in std::fs::read_to_string(&path).expect("read").lines() {
                    if parse_line(line).is_none() {
                        problems.push(format!(
                            "{}: `{line}` is not `CODE PATH LINE:COLUMN`",
                            shown(&path)
                        ));
                    }
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// What the documents of a fixture directory cover: kinds and variants.
fn coverage(dir: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    for file in fixture_files(dir) {
        let (text, loaded) = load_file(&file);
        if file.extension().is_some_and(|e| e == "json") {
            seen.insert("json".to_owned());
        }
        if loaded.documents.len() > 1 {
            seen.insert("multi-document".to_owned());
        }
        if !text.contains("kind:") && loaded.documents.iter().any(|d| d.kind == Kind::Workspace) {
            seen.insert("kind-less Workspace".to_owned());
        }
        for doc in &loaded.documents {
            seen.insert(doc.kind.as_str().to_owned());
            match &doc.resource {
                Resource::Space(_) => {
                    let org = doc.name().is_some_and(|n| n.ends_with(".cordium"));
                    seen.insert(format!(
                        "Space {}",
                        if org { "ORGANIZATION" } else { "USER" }
                    ));
                }
                Resource::UserSecret(u) => {
                    let t = u
                        .spec
                        .as_ref()
                        .and_then(|s| s.secret_type.as_ref())
                        .map_or(UserSecretType::Default, |t| t.value);
                    seen.insert(format!("UserSecret {}", t.as_str()));
                }
                Resource::GitProvider(g) => {
                    if let Some(spec) = &g.spec {
                        seen.insert(format!("GitProvider {}", spec.choice()));
                    }
                }
                _ => {}
            }
        }
    }
    seen
}

#[test]
fn valid_fixtures_cover_every_kind_and_variant() {
    let seen = coverage("valid");
    let mut wanted: Vec<String> = Kind::ALL.iter().map(|k| k.as_str().to_owned()).collect();
    wanted.extend(
        [
            "json",
            "multi-document",
            "kind-less Workspace",
            "Space ORGANIZATION",
            "Space USER",
            "UserSecret DEFAULT",
            "UserSecret SSH_KEY",
            "GitProvider github",
            "GitProvider gitlab",
            "GitProvider oauth2",
        ]
        .map(str::to_owned),
    );
    let missing: Vec<_> = wanted.iter().filter(|w| !seen.contains(*w)).collect();
    assert!(
        missing.is_empty(),
        "fixtures/valid has no {missing:?}; it has {seen:?}"
    );
}

#[test]
fn invalid_fixtures_cover_every_kind() {
    for dir in ["invalid/schema", "invalid/semantic"] {
        let seen = coverage(dir);
        let missing: Vec<_> = Kind::ALL
            .iter()
            .filter(|k| !seen.contains(k.as_str()))
            .collect();
        assert!(
            missing.is_empty(),
            "fixtures/{dir} has no document of kind {missing:?}"
        );
    }
}
