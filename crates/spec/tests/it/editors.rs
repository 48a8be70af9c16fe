//! The committed JSON Schemas in the tools people use: yaml-language-server, the editor engine
//! (driven over LSP by `tests/lsp/validate.mjs`), and check-jsonschema, an independent validator.
//!
//! Both are installed into `<repo>/.tools/` by `scripts/install-test-tools.sh`; a missing tool
//! fails these tests with that instruction (they are never skipped).
//!
//! What is checked:
//! - the editor flags exactly the README's two typos, with its own messages, and nothing in a
//!   valid document; a modeline (`# yaml-language-server: $schema=...`) works as well;
//! - the editor flags every document of `fixtures/invalid/schema/` at exactly the places
//!   `cordium_spec::load` does, and nothing in `fixtures/valid/` or `fixtures/invalid/semantic/`;
//! - check-jsonschema accepts every valid document (with `cordium.schema.json` and with its
//!   kind's schema), rejects every document of `fixtures/invalid/schema/` on its own, naming
//!   each field our `.diagnostics` name, and accepts every `fixtures/invalid/semantic/`
//!   document (those mistakes are beyond JSON Schema);
//! - every schema file is valid under its metaschema.
//!
//! check-jsonschema reads one YAML document per file, so multi-document fixtures are split
//! into one file per document under the Cargo target's temporary directory.

use crate::fixtures::{expected_lines, fixture_files, load_file, parse_line, repo, shown};
use cordium_spec::{Kind, Node, NodeKind, SourceId, schema};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

const INSTALL: &str = "run `scripts/install-test-tools.sh` (it installs yaml-language-server and check-jsonschema into .tools/)";

/// A tool under `<repo>/.tools/`, which must exist.
fn tool(relative: &str) -> PathBuf {
    let path = repo().join(".tools").join(relative);
    assert!(path.exists(), "{} is missing: {INSTALL}", path.display());
    path
}

fn check_jsonschema() -> PathBuf {
    tool("venv/bin/check-jsonschema")
}

fn run(command: &mut Command) -> Output {
    command.output().unwrap_or_else(|e| {
        panic!(
            "cannot run {command:?}: {e}; {INSTALL}, and make sure `node` and `python3` are on PATH"
        )
    })
}

/// Runs `f` on every item, a few at a time (the tools are separate processes), in order.
fn parallel<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let next = AtomicUsize::new(0);
    let mut results: Vec<(usize, R)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..4)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::SeqCst);
                        let Some(item) = items.get(i) else {
                            return done;
                        };
                        done.push((i, f(item)));
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("worker"))
            .collect()
    });
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, r)| r).collect()
}

/// One diagnostic published by the editor: 0-based line and character, as LSP sends them.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Published {
    line: u64,
    character: u64,
    message: String,
}

/// Opens `files` in one yaml-language-server session, with `schema` mapped to them (or their
/// modelines when `None`), and returns the diagnostics it publishes for each, sorted by place.
fn editor(files: &[PathBuf], schema: Option<&Path>) -> Vec<Vec<Published>> {
    let server = tool("node/node_modules/.bin/yaml-language-server");
    let mut command = Command::new("node");
    command
        .arg(repo().join("tests/lsp/validate.mjs"))
        .args(files);
    if let Some(schema) = schema {
        command.arg("--schema").arg(schema);
    }
    let out = run(command.env("YAML_LANGUAGE_SERVER", &server));
    assert!(
        out.status.success(),
        "tests/lsp/validate.mjs failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let mut published = vec![Vec::new(); files.len()];
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let v: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("the driver printed `{line}`: {e}"));
        let i = match v["file"].as_str() {
            Some(file) => files
                .iter()
                .position(|f| f.as_os_str() == file)
                .unwrap_or_else(|| panic!("unknown file in `{line}`")),
            None => 0,
        };
        published[i].push(Published {
            line: v["line"].as_u64().expect("line"),
            character: v["character"].as_u64().expect("character"),
            message: v["message"].as_str().expect("message").to_owned(),
        });
    }
    for p in &mut published {
        p.sort();
    }
    published
}

fn any_kind_schema() -> PathBuf {
    repo().join("schemas").join(schema::ANY_KIND_FILE)
}

/// The documents of a fixture, each as `(first line, last line, file to validate)`: the file
/// itself when it holds one document, else one file per document (empty documents skipped).
fn documents(file: &Path) -> Vec<(usize, usize, PathBuf)> {
    let text = std::fs::read_to_string(file).expect("read fixture");
    let lines: Vec<&str> = text.lines().collect();
    let mut starts = vec![0];
    starts.extend((0..lines.len()).filter(|i| lines[*i] == "---" || lines[*i].starts_with("--- ")));
    let mut ranges: Vec<(usize, usize)> = starts
        .iter()
        .zip(starts.iter().skip(1).chain([&lines.len()]))
        .map(|(a, b)| (*a, *b))
        .collect();
    ranges.retain(|(a, b)| {
        lines[*a..*b]
            .iter()
            .any(|l| !(l.trim().is_empty() || l.trim_start().starts_with('#') || *l == "---"))
    });
    if ranges.len() <= 1 {
        return vec![(1, lines.len(), file.to_path_buf())];
    }
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("editors");
    std::fs::create_dir_all(&dir).expect("temporary directory");
    let stem = shown(file).replace(['/', '\\', '.'], "_");
    ranges
        .iter()
        .enumerate()
        .map(|(n, (a, b))| {
            let part = dir.join(format!("{stem}.{n}.yaml"));
            std::fs::write(&part, lines[*a..*b].join("\n") + "\n").expect("write document");
            (a + 1, *b, part)
        })
        .collect()
}

/// check-jsonschema's verdict on `files` against `schema`: success, and its JSON report.
fn check(schema: &Path, files: &[PathBuf]) -> (bool, Value, String) {
    let out = run(Command::new(check_jsonschema())
        .args(["--output-format", "json", "--verbose", "--schemafile"])
        .arg(schema)
        .args(files));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let report = serde_json::from_str(&stdout).unwrap_or(Value::Null);
    (
        out.status.success(),
        report,
        format!("{stdout}{}", String::from_utf8_lossy(&out.stderr)),
    )
}

#[test]
fn the_editor_reports_the_readme_typos_exactly() {
    let file = repo().join("fixtures/invalid/readme-typos.yaml");
    let published = editor(std::slice::from_ref(&file), Some(&any_kind_schema())).remove(0);
    let expected = vec![
        Published {
            line: 4,
            character: 15,
            message: "Incorrect type. Expected one of boolean, null.".into(),
        },
        Published {
            line: 6,
            character: 4,
            message: "Property enVars is not allowed.".into(),
        },
    ];
    assert_eq!(
        published,
        expected,
        "yaml-language-server on {}",
        shown(&file)
    );
    // The same places as `cordium validate` (1-based there).
    let ours: Vec<(u64, u64)> = expected_lines(&file)
        .iter()
        .filter_map(|l| parse_line(l))
        .map(|(_, _, l, c)| (u64::from(l) - 1, u64::from(c) - 1))
        .collect();
    assert_eq!(
        ours,
        published
            .iter()
            .map(|p| (p.line, p.character))
            .collect::<Vec<_>>()
    );
}

#[test]
fn the_editor_follows_a_modeline() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("editors");
    std::fs::create_dir_all(&dir).expect("temporary directory");
    let modeline = format!(
        "# yaml-language-server: $schema={}\n",
        any_kind_schema().canonicalize().expect("schema").display()
    );
    let valid = std::fs::read_to_string(repo().join("fixtures/valid/template.yaml")).expect("read");
    let file = dir.join("modeline-template.yaml");
    std::fs::write(&file, format!("{modeline}{valid}")).expect("write");
    assert_eq!(
        editor(std::slice::from_ref(&file), None),
        vec![vec![]],
        "a valid Template with a modeline"
    );
    // A Template with a Workspace-only field: the modeline's schema dispatches on `kind`.
    std::fs::write(&file, format!("{modeline}{valid}  isEphemeral: true\n")).expect("write");
    let line = u64::try_from(valid.lines().count() + 1).expect("line");
    let expected = vec![Published {
        line,
        character: 2,
        message: "Property isEphemeral is not allowed.".into(),
    }];
    assert_eq!(editor(std::slice::from_ref(&file), None), vec![expected]);
}

/// The place the editor reports a diagnostic of ours at (0-based): ours, except that a one-of
/// with two choices is reported at the mapping holding them, where we point at the second.
fn editor_place(
    roots: &[Node],
    code: &str,
    path: &str,
    line: u32,
    column: u32,
    lines: &[&str],
) -> (u64, u64) {
    let place = (u64::from(line) - 1, u64::from(column) - 1);
    if code != cordium_spec::codes::ONE_OF {
        return place;
    }
    // The document holding the diagnostic, then the node at its path.
    let offset: usize = lines[..line as usize - 1]
        .iter()
        .map(|l| l.len() + 1)
        .sum::<usize>();
    let Some(mut node) = roots
        .iter()
        .rev()
        .find(|r| (r.loc.offset as usize) <= offset)
    else {
        return place;
    };
    for segment in path.split('.') {
        let (key, index) = segment.split_once('[').unwrap_or((segment, ""));
        if !key.is_empty() {
            let Some(next) = node.get(key) else {
                return place;
            };
            node = next;
        }
        if let (Ok(i), NodeKind::Seq(items)) =
            (index.trim_end_matches(']').parse::<usize>(), &node.kind)
        {
            let Some(next) = items.get(i) else {
                return place;
            };
            node = next;
        }
    }
    (u64::from(node.loc.line) - 1, u64::from(node.loc.column) - 1)
}

#[test]
fn the_editor_flags_exactly_what_we_flag_in_schema_fixtures_and_nothing_in_valid_ones() {
    let schema = any_kind_schema();
    let invalid = fixture_files("invalid/schema");
    let mut clean = fixture_files("valid");
    clean.extend(fixture_files("invalid/semantic"));
    let all: Vec<PathBuf> = invalid.iter().chain(&clean).cloned().collect();
    let published = editor(&all, Some(&schema));
    let mut failures = Vec::new();
    for (file, published) in all.iter().zip(&published) {
        let expected: Vec<(u64, u64)> = if invalid.contains(file) {
            let text = std::fs::read_to_string(file).expect("read fixture");
            let lines: Vec<&str> = text.lines().collect();
            let roots = cordium_spec::yaml::parse_documents(&text, SourceId(0))
                .expect("the fixture parses");
            let mut places: Vec<(u64, u64)> = expected_lines(file)
                .iter()
                .filter_map(|l| parse_line(l))
                .map(|(code, path, line, column)| {
                    editor_place(&roots, code, path, line, column, &lines)
                })
                .collect();
            places.sort();
            places
        } else {
            Vec::new()
        };
        let found: Vec<(u64, u64)> = published.iter().map(|p| (p.line, p.character)).collect();
        if found != expected {
            failures.push(format!(
                "{}: the editor published (0-based line, character):\n    {}\n  expected:\n    {expected:?}",
                shown(file),
                published.iter().map(|p| format!("{}:{} {}", p.line, p.character, p.message)).collect::<Vec<_>>().join("\n    ")
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "yaml-language-server with {}:\n{}",
        shown(&schema),
        failures.join("\n")
    );
}

#[test]
fn check_jsonschema_accepts_every_valid_document_with_both_schemas() {
    let documents: Vec<PathBuf> = fixture_files("valid")
        .iter()
        .flat_map(|f| documents(f))
        .map(|(_, _, d)| d)
        .collect();
    let mut by_kind: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
    for document in &documents {
        let (_, loaded) = load_file(document);
        let kind = loaded.documents.first().map_or(Kind::Workspace, |d| d.kind);
        by_kind
            .entry(schema::file_name(kind))
            .or_default()
            .push(document.clone());
    }
    let mut runs: Vec<(PathBuf, Vec<PathBuf>)> = vec![(any_kind_schema(), documents.clone())];
    runs.extend(
        by_kind
            .into_iter()
            .map(|(name, files)| (repo().join("schemas").join(name), files)),
    );
    for ((schema, files), (ok, _, output)) in runs
        .iter()
        .zip(parallel(&runs, |(schema, files)| check(schema, files)))
    {
        assert!(
            ok,
            "check-jsonschema --schemafile {} rejected valid documents:\n{output}",
            shown(schema)
        );
        assert!(!files.is_empty());
    }
}

/// Whether check-jsonschema's report names the field of one of our diagnostics: an error at
/// its path, or at its parent mentioning it (`'enVars' was unexpected`, `'apiVersion' is a
/// required property`).
fn mentions(report: &Value, path: &str) -> bool {
    let json_path = |p: &str| {
        if p.is_empty() || p == "-" {
            "$".to_owned()
        } else {
            format!("$.{p}")
        }
    };
    let target = json_path(path);
    let (parent, key) = match path.rsplit_once('.') {
        Some((parent, key)) => (json_path(parent), key),
        None => ("$".to_owned(), path),
    };
    let errors = report["errors"].as_array().into_iter().flatten();
    let all = errors
        .flat_map(|e| std::iter::once(e).chain(e["sub_errors"].as_array().into_iter().flatten()));
    all.into_iter().any(|e| {
        let at = e["path"].as_str().unwrap_or("");
        let message = e["message"].as_str().unwrap_or("");
        at == target || (at == parent && message.contains(&format!("'{key}'")))
    })
}

#[test]
fn check_jsonschema_rejects_every_schema_fixture_document_naming_each_field() {
    let schema = any_kind_schema();
    let mut cases = Vec::new();
    for file in fixture_files("invalid/schema") {
        let expected = expected_lines(&file);
        for (first, last, document) in documents(&file) {
            let paths: Vec<String> = expected
                .iter()
                .filter_map(|l| parse_line(l))
                .filter(|(_, _, line, _)| (first..=last).contains(&(*line as usize)))
                .map(|(_, path, _, _)| path.to_owned())
                .collect();
            cases.push((file.clone(), first, document, paths));
        }
    }
    // One run validates each file on its own; its report says which file each error is in.
    let documents: Vec<PathBuf> = cases
        .iter()
        .map(|(_, _, document, _)| document.clone())
        .collect();
    let (ok, report, output) = check(&schema, &documents);
    assert!(
        !ok,
        "check-jsonschema accepted every schema fixture:\n{output}"
    );
    let mut failures = Vec::new();
    for (file, first, document, paths) in &cases {
        let place = format!("{} (document at line {first})", shown(file));
        let errors: Vec<Value> = report["errors"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|e| e["filename"].as_str() == document.to_str())
            .cloned()
            .collect();
        let own = serde_json::json!({ "errors": errors });
        if errors.is_empty() || paths.is_empty() {
            failures.push(format!(
                "{place}: check-jsonschema accepted it, or it has no expected diagnostic"
            ));
        }
        for path in paths
            .iter()
            .filter(|p| !errors.is_empty() && !mentions(&own, p))
        {
            failures.push(format!(
                "{place}: check-jsonschema's report does not name `{path}`:\n{own:#}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn check_jsonschema_accepts_semantic_fixtures_whose_mistakes_are_beyond_json_schema() {
    let documents: Vec<PathBuf> = fixture_files("invalid/semantic")
        .iter()
        .flat_map(|f| documents(f))
        .map(|(_, _, d)| d)
        .collect();
    let (ok, _, output) = check(&any_kind_schema(), &documents);
    assert!(
        ok,
        "a JSON Schema validator catches a mistake of fixtures/invalid/semantic/; move the document to fixtures/invalid/schema/:\n{output}"
    );
}

#[test]
fn every_schema_file_is_valid_under_its_metaschema() {
    let files: Vec<PathBuf> = schema::all_files()
        .into_iter()
        .map(|(name, _)| repo().join("schemas").join(name))
        .collect();
    let out = run(Command::new(check_jsonschema())
        .arg("--check-metaschema")
        .args(&files));
    assert!(
        out.status.success(),
        "check-jsonschema --check-metaschema:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
