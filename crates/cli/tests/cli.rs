//! End-to-end tests of the `cordium` binary: every command, every exit code, colour and no
//! colour, JSON diagnostics, standard input, `--help` examples and a closed output pipe.
//!
//! Each test runs the real executable (`CARGO_BIN_EXE_cordium`) from the repository root, with
//! the colour variables (`NO_COLOR`, `CLICOLOR`, `CLICOLOR_FORCE`) removed so the developer's
//! shell cannot change the result; standard output and standard error are pipes.

mod support;

use std::io::{BufRead as _, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use support::{Run, root, run_with};

/// `cordium` in the repository root, with a clean colour environment.
fn cordium() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cordium"));
    cmd.current_dir(root())
        .env_remove("NO_COLOR")
        .env_remove("CLICOLOR")
        .env_remove("CLICOLOR_FORCE")
        .stdin(Stdio::null());
    cmd
}

/// Runs `cordium ARGS`.
fn run(args: &[&str]) -> Run {
    run_with(cordium(), args, None)
}

/// Writes `text` to `name` in a fresh temporary folder.
fn temp_file(name: &str, text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let path = dir.path().join(name);
    std::fs::write(&path, text).expect("the file is written");
    (dir, path)
}

fn has_escape(text: &str) -> bool {
    text.contains('\u{1b}')
}

const TEMPLATE: &str = "fixtures/examples/template.yaml";
const SPACE: &str = "fixtures/examples/space.yaml";
const WORKSPACE: &str = "fixtures/examples/workspace.yaml";
const SEED: &str = "fixtures/seed/workspace.yaml";
const TYPOS: &str = "fixtures/invalid/readme-typos.yaml";

/// Three independent mistakes: a string for a boolean, a misspelt field, two default
/// applications (the last one has a related location).
const THREE_MISTAKES: &str = "\
apiVersion: cordium/v1
kind: Workspace
metadata: {name: three}
spec:
  isEphemeral: yes
  runtime:
    enVars: []
  applications:
    - name: web
      port: 3000
      isDefault: true
    - name: api
      port: 3001
      isDefault: true
";

// ---------------------------------------------------------------------------------------------
// compile

#[test]
fn compile_prints_the_effective_workspace_as_yaml() {
    let r = run(&[
        "compile",
        "-f",
        TEMPLATE,
        "-f",
        WORKSPACE,
        "--var",
        "BRANCH=feature/x",
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout
            .starts_with("apiVersion: cordium/v1\nkind: EffectiveWorkspace\n"),
        "{r:?}"
    );
    assert!(
        r.stdout.contains("      branch: feature/x\n"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("url: https://github.com/myorg/api-service\n"),
        "{}",
        r.stdout
    );
    assert_eq!(r.stderr, "");
}

#[test]
fn compile_output_json_is_one_json_document() {
    let r = run(&[
        "compile", "-f", SPACE, "-f", TEMPLATE, "-f", WORKSPACE, "-o", "json",
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    let value: serde_json::Value = serde_json::from_str(&r.stdout).expect("stdout is JSON");
    assert_eq!(value["kind"], "EffectiveWorkspace");
    assert_eq!(value["metadata"]["name"], "api");
    assert_eq!(value["spec"]["repository"]["cloneOptions"]["branch"], "dev");
    // The Space caps the Workspace's 16000 millicores at 8000.
    assert_eq!(value["spec"]["limit"]["cpu"]["millicores"], 8000);
    assert_eq!(r.stderr, "");
}

#[test]
fn compile_reads_standard_input_with_dash() {
    let seed = std::fs::read_to_string(root().join(SEED)).expect("the seed example");
    let r = run_with(
        cordium(),
        &["compile", "-f", "-", "-o", "json"],
        Some(&seed),
    );
    assert_eq!(r.code, 0, "{r:?}");
    let value: serde_json::Value = serde_json::from_str(&r.stdout).expect("stdout is JSON");
    assert_eq!(
        value["spec"]["image"]["registry"]["url"],
        "python:3.11-slim"
    );
    // Same result as reading the file.
    let from_file = run(&["compile", "-f", SEED, "-o", "json"]);
    assert_eq!(r.stdout, from_file.stdout);
}

#[test]
fn compile_names_standard_input_in_diagnostics() {
    let r = run_with(cordium(), &["compile", "-f", "-"], Some(THREE_MISTAKES));
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains(" --> <stdin>:5:16\n"), "{}", r.stderr);
    assert_eq!(r.stdout, "");
}

#[test]
fn compile_of_invalid_input_exits_1_with_diagnostics_on_stderr() {
    let r = run(&["compile", "-f", TYPOS]);
    assert_eq!(r.code, 1, "{r:?}");
    assert_eq!(r.stdout, "");
    assert!(
        r.stderr
            .contains("error[spec::type]: expected a boolean, found a string"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.ends_with("error: 2 problems found\n"),
        "{}",
        r.stderr
    );
}

#[test]
fn undefined_variable_caret_sits_under_the_reference_inside_the_string() {
    let doc = "\
apiVersion: cordium/v1
kind: Workspace
metadata: {name: vars}
spec:
  repository:
    url: \"https://github.com/${{ vars.ORGG }}/api\"
  vars:
    - name: ORG
      value: myorg
";
    let (_dir, path) = temp_file("ws.yaml", doc);
    let path = path.to_str().expect("a UTF-8 path");
    let r = run(&["compile", "-f", path]);
    assert_eq!(r.code, 1, "{r:?}");
    let source_line = "    url: \"https://github.com/${{ vars.ORGG }}/api\"";
    let reference = "${{ vars.ORGG }}";
    let column = source_line
        .find(reference)
        .expect("the reference is in the line");
    let lines: Vec<&str> = r.stderr.lines().collect();
    assert!(
        lines[0].starts_with("error[vars::undefined]: undefined variable `ORGG`"),
        "{}",
        r.stderr
    );
    assert_eq!(lines[1], format!(" --> {path}:6:{}", column + 1));
    assert_eq!(lines[3], format!("6 | {source_line}"));
    // The caret line: the gutter `  | `, then spaces up to the reference, then one `^` per byte.
    assert_eq!(
        lines[4],
        format!("  | {}{}", " ".repeat(column), "^".repeat(reference.len()))
    );
    assert!(
        r.stderr.contains("= help: did you mean `vars.ORG`?"),
        "{}",
        r.stderr
    );

    // The JSON span says the same.
    let r = run(&["compile", "--message-format", "json", "-f", path]);
    assert_eq!(r.code, 1, "{r:?}");
    let d: serde_json::Value = serde_json::from_str(r.stderr.trim_end()).expect("one JSON line");
    assert_eq!(d["code"], "vars::undefined");
    assert_eq!(d["span"]["start"]["line"], 6);
    assert_eq!(d["span"]["start"]["column"], column + 1);
    assert_eq!(d["span"]["end"]["column"], column + 1 + reference.len());
    // `location` is where the human `-->` line points: the reference, not the string's start.
    assert_eq!(d["location"]["line"], 6);
    assert_eq!(d["location"]["column"], column + 1);
}

#[test]
fn compile_secrets_name_the_secrets_that_exist() {
    let r = run(&["compile", "-f", WORKSPACE, "--secrets", "my-api-key,other"]);
    assert_eq!(r.code, 0, "{r:?}");
    let r = run(&["compile", "-f", WORKSPACE, "--secrets", "other"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr
            .contains("error[compile::missing-secret]: Secret `my-api-key` does not exist"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains(" --> fixtures/examples/workspace.yaml:9:21\n"),
        "{}",
        r.stderr
    );
    // An empty list: no Secret exists.
    let r = run(&["compile", "-f", WORKSPACE, "--secrets"]);
    assert_eq!(r.code, 1, "{r:?}");
}

#[test]
fn compile_allow_undefined_vars_warns_and_succeeds() {
    let doc = "spec:\n  repository:\n    url: https://example.com/${{ vars.NOPE }}/repo\n";
    let (_dir, path) = temp_file("ws.yaml", doc);
    let path = path.to_str().expect("a UTF-8 path");
    let strict = run(&["compile", "-f", path]);
    assert_eq!(strict.code, 1, "{strict:?}");
    let lenient = run(&["compile", "-f", path, "--allow-undefined-vars"]);
    assert_eq!(lenient.code, 0, "{lenient:?}");
    assert!(
        lenient.stdout.contains("url: https://example.com//repo\n"),
        "{}",
        lenient.stdout
    );
    assert!(
        lenient
            .stderr
            .starts_with("warning[compile::undefined-var-lenient]: "),
        "{}",
        lenient.stderr
    );
    assert!(
        !lenient.stderr.contains("problem"),
        "warnings are not counted: {}",
        lenient.stderr
    );
}

#[test]
fn compile_build_takes_the_cluster_build_limit() {
    let cluster = "fixtures/examples/cluster.yaml";
    let run_cpu = |extra: &[&str]| {
        let mut args = vec!["compile", "-o", "json", "-f", WORKSPACE, "-f", cluster];
        args.extend_from_slice(extra);
        let r = run(&args);
        assert_eq!(r.code, 0, "{r:?}");
        let value: serde_json::Value = serde_json::from_str(&r.stdout).expect("stdout is JSON");
        value["spec"]["limit"]["cpu"]["millicores"].clone()
    };
    assert_eq!(run_cpu(&[]), 16000);
    assert_eq!(run_cpu(&["--build"]), 8000);
}

#[test]
fn compile_repo_file_is_the_repository_file_layer() {
    let r = run(&[
        "explain",
        "-f",
        WORKSPACE,
        "--repo-file",
        SEED,
        "spec.image",
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout
            .contains("python:3.11-slim  repository file (fixtures/seed/workspace.yaml:4:12)"),
        "{}",
        r.stdout
    );
}

#[test]
fn compile_var_without_equals_is_a_usage_error() {
    let r = run(&["compile", "-f", WORKSPACE, "--var", "BRANCH"]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("write NAME=VALUE"), "{}", r.stderr);
    assert_eq!(r.stdout, "");
}

#[test]
fn compile_var_follows_the_rules_of_spec_vars() {
    let r = run(&["compile", "-f", WORKSPACE, "--var", "MY-VAR=x"]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr.contains("a variable name is at most 256 letters"),
        "{}",
        r.stderr
    );
    let long = format!("BRANCH={}", "x".repeat(5001));
    let r = run(&["compile", "-f", WORKSPACE, "--var", &long]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr.contains("the value is 5001 bytes; at most 5000"),
        "{}",
        &r.stderr[..r.stderr.len().min(500)]
    );
}

// ---------------------------------------------------------------------------------------------
// explain

#[test]
fn explain_shows_origin_and_cap() {
    let r = run(&["explain", "-f", SPACE, "-f", WORKSPACE, "spec.limit"]);
    assert_eq!(r.code, 0, "{r:?}");
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert!(
        lines[0].starts_with("FIELD") && lines[0].ends_with("NOTES"),
        "{}",
        r.stdout
    );
    let cpu = lines
        .iter()
        .find(|l| l.starts_with("spec.limit.cpu.millicores "))
        .expect("a cpu row");
    assert!(cpu.contains(" 8000 "), "{cpu}");
    assert!(
        cpu.contains("Workspace api (fixtures/examples/workspace.yaml:20:23)"),
        "{cpu}"
    );
    assert!(
        cpu.contains("capped from 16000 by Space maxLimit (fixtures/examples/space.yaml:11:25)"),
        "{cpu}"
    );
    assert!(
        lines.iter().skip(1).all(|l| l.starts_with("spec.limit.")),
        "{}",
        r.stdout
    );
    assert_eq!(r.stderr, "");
}

/// Issue 14: a limit chosen from a higher layer says what it replaced, as every other leaf
/// does (nearest first, the rest counted).
#[test]
fn explain_says_what_a_limit_replaced() {
    let (dir, ws) = temp_file(
        "ws.yaml",
        "apiVersion: cordium/v1\nkind: Workspace\nmetadata: {name: ws}\nspec:\n  limit:\n    cpu: {millicores: 3000}\n",
    );
    let template = dir.path().join("template.yaml");
    std::fs::write(
        &template,
        "apiVersion: cordium/v1\nkind: Template\nmetadata: {name: base.team.cordium}\nspec:\n  limit:\n    cpu: {millicores: 1000}\n",
    )
    .expect("the template is written");
    let space = dir.path().join("space.yaml");
    std::fs::write(
        &space,
        "apiVersion: cordium/v1\nkind: Space\nmetadata: {name: team.cordium}\nspec:\n  limit:\n    defaultLimit:\n      cpu: {millicores: 500}\n      memory: {megabytes: 2000}\n",
    )
    .expect("the space is written");
    let (ws, template, space) = (
        ws.display().to_string(),
        template.display().to_string(),
        space.display().to_string(),
    );

    // Workspace over Template over Space: the nearest is named, the other counted.
    let r = run(&[
        "explain",
        "-f",
        &space,
        "-f",
        &template,
        "-f",
        &ws,
        "spec.limit",
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    let row = |field: &str| {
        r.stdout
            .lines()
            .find(|l| l.starts_with(field))
            .map(str::to_owned)
            .unwrap_or_default()
    };
    let cpu = row("spec.limit.cpu.millicores ");
    assert!(cpu.contains(&format!("Workspace ws ({ws}:6:23)")), "{cpu}");
    assert!(
        cpu.ends_with(&format!(
            "replaced Template base.team.cordium ({template}:6:23) (+1 more)"
        )),
        "{cpu}"
    );
    // The Space default alone, replacing nothing; the built-in default, replacing nothing.
    let memory = row("spec.limit.memory.megabytes ");
    assert!(
        memory.contains(&format!("Space team.cordium ({space}:8:27)")),
        "{memory}"
    );
    assert!(!memory.contains("replaced"), "{memory}");
    assert!(
        !row("spec.limit.storage.megabytes ").contains("replaced"),
        "{}",
        r.stdout
    );

    // Without the Space: the Template alone is named.
    let r = run(&["explain", "-f", &template, "-f", &ws, "spec.limit.cpu"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout
            .lines()
            .nth(1)
            .is_some_and(|l| l.ends_with(&format!(
                "replaced Template base.team.cordium ({template}:6:23)"
            ))),
        "{}",
        r.stdout
    );
}

#[test]
fn explain_without_a_path_lists_every_leaf() {
    let r = run(&["explain", "-f", TEMPLATE, "-f", WORKSPACE]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout
            .lines()
            .any(|l| l.starts_with("spec.image.registry.url ")),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .lines()
            .any(|l| l.starts_with("spec.limit.cpu.millicores ")),
        "{}",
        r.stdout
    );
}

#[test]
fn explain_of_an_absent_field_exits_1() {
    let r = run(&["explain", "-f", WORKSPACE, "spec.nope"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert_eq!(r.stderr, "error: no effective field at `spec.nope`\n");
}

#[test]
fn explain_of_invalid_input_exits_1() {
    let r = run(&["explain", "-f", TYPOS]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("error: 2 problems found"), "{}", r.stderr);
    assert_eq!(r.stdout, "");
}

// ---------------------------------------------------------------------------------------------
// validate

#[test]
fn validate_reports_each_valid_file() {
    let r = run(&["validate", SPACE, TEMPLATE, WORKSPACE]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(
        r.stdout,
        "valid: fixtures/examples/space.yaml (Space)\n\
         valid: fixtures/examples/template.yaml (Template)\n\
         valid: fixtures/examples/workspace.yaml (Workspace)\n"
    );
    assert_eq!(r.stderr, "");
}

#[test]
fn validate_reads_standard_input() {
    let text = std::fs::read_to_string(root().join(SPACE)).expect("the Space example");
    let r = run_with(cordium(), &["validate", "-"], Some(&text));
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.stdout, "valid: <stdin> (Space)\n");
}

#[test]
fn three_mistakes_give_three_diagnostics() {
    let (_dir, path) = temp_file("three.yaml", THREE_MISTAKES);
    let r = run(&["validate", path.to_str().expect("a UTF-8 path")]);
    assert_eq!(r.code, 1, "{r:?}");
    assert_eq!(r.stdout, "");
    let headers: Vec<&str> = r
        .stderr
        .lines()
        .filter(|l| l.starts_with("error["))
        .collect();
    assert_eq!(
        headers,
        [
            "error[spec::type]: expected a boolean, found a string",
            "error[spec::unknown-field]: unknown field `enVars`",
            "error[spec::default-application]: more than one application is the default",
        ],
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.ends_with("error: 3 problems found\n"),
        "{}",
        r.stderr
    );
    // The related place is shown with its own snippet.
    assert!(
        r.stderr.contains(&format!("::: {}:11:18", path.display())),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("---- the first default"), "{}", r.stderr);
}

// ---------------------------------------------------------------------------------------------
// JSON diagnostics

/// Parses every line of `stderr` as one JSON object with the documented fields.
fn json_diagnostics(stderr: &str) -> Vec<serde_json::Value> {
    assert!(stderr.ends_with('\n'), "{stderr:?}");
    stderr
        .lines()
        .map(|line| {
            let value: serde_json::Value =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
            let object = value
                .as_object()
                .unwrap_or_else(|| panic!("not an object: {line}"));
            for key in [
                "code", "message", "path", "location", "span", "help", "related",
            ] {
                assert!(object.contains_key(key), "no `{key}` in {line}");
            }
            assert!(
                value["code"].is_string()
                    && value["message"].is_string()
                    && value["path"].is_string(),
                "{line}"
            );
            assert!(value["location"]["file"].is_string(), "{line}");
            assert!(
                value["location"]["line"].is_u64() && value["location"]["column"].is_u64(),
                "{line}"
            );
            assert!(
                value["span"].is_object() || value["span"].is_null(),
                "{line}"
            );
            assert!(
                value["help"].is_string() || value["help"].is_null(),
                "{line}"
            );
            assert!(value["related"].is_array(), "{line}");
            if value["span"].is_object() {
                // The location is the span's start, as in the human format's `-->` line.
                assert_eq!(
                    value["location"]["line"], value["span"]["start"]["line"],
                    "{line}"
                );
                assert_eq!(
                    value["location"]["column"], value["span"]["start"]["column"],
                    "{line}"
                );
            }
            value
        })
        .collect()
}

#[test]
fn message_format_json_prints_one_object_per_line() {
    let (_dir, path) = temp_file("three.yaml", THREE_MISTAKES);
    let file = path.to_str().expect("a UTF-8 path");
    let r = run(&["validate", "--message-format", "json", file]);
    assert_eq!(r.code, 1, "{r:?}");
    assert_eq!(r.stdout, "");
    assert!(!has_escape(&r.stderr));
    let diagnostics = json_diagnostics(&r.stderr);
    assert_eq!(diagnostics.len(), 3, "{}", r.stderr);

    let first = &diagnostics[0];
    assert_eq!(first["severity"], "error");
    assert_eq!(first["code"], "spec::type");
    assert_eq!(first["message"], "expected a boolean, found a string");
    assert_eq!(first["path"], "spec.isEphemeral");
    assert_eq!(first["location"]["file"], file);
    assert_eq!(first["location"]["line"], 5);
    assert_eq!(first["location"]["column"], 16);
    assert_eq!(first["span"]["start"]["line"], 5);
    assert_eq!(first["span"]["start"]["column"], 16);
    assert_eq!(first["span"]["end"]["column"], 19);
    let (start, end) = (
        first["span"]["byteStart"].as_u64(),
        first["span"]["byteEnd"].as_u64(),
    );
    let (start, end) = (
        start.expect("byteStart") as usize,
        end.expect("byteEnd") as usize,
    );
    assert_eq!(&THREE_MISTAKES[start..end], "yes");
    assert_eq!(
        first["help"],
        "YAML 1.2 booleans are written `true` or `false`"
    );
    assert_eq!(first["related"], serde_json::json!([]));

    assert_eq!(diagnostics[1]["help"], "did you mean `envVars`?");
    let third = &diagnostics[2];
    assert_eq!(third["path"], "spec.applications[1].isDefault");
    assert_eq!(
        third["related"],
        serde_json::json!([{"file": file, "line": 11, "column": 18, "message": "the first default"}])
    );
}

#[test]
fn message_format_json_works_for_compile_and_explain() {
    for command in ["compile", "explain"] {
        let r = run(&[command, "--message-format", "json", "-f", TYPOS]);
        assert_eq!(r.code, 1, "{command}: {r:?}");
        let diagnostics = json_diagnostics(&r.stderr);
        let codes: Vec<&str> = diagnostics
            .iter()
            .map(|d| d["code"].as_str().unwrap_or(""))
            .collect();
        assert_eq!(codes, ["spec::type", "spec::unknown-field"], "{command}");
        assert_eq!(diagnostics[0]["location"]["file"], TYPOS);
    }
}

// ---------------------------------------------------------------------------------------------
// colour

#[test]
fn color_always_colours_diagnostics() {
    let r = run(&["--color", "always", "validate", TYPOS]);
    assert_eq!(r.code, 1);
    assert!(has_escape(&r.stderr), "{:?}", r.stderr);
    // Red bold `error[...]`.
    assert!(
        r.stderr.contains("\u{1b}[1m\u{1b}[31merror[spec::type]"),
        "{:?}",
        r.stderr
    );
    // The flag is global: it may follow the subcommand too.
    let r = run(&["validate", "--color", "always", TYPOS]);
    assert!(has_escape(&r.stderr), "{:?}", r.stderr);
}

#[test]
fn color_always_wins_over_no_color() {
    let mut cmd = cordium();
    cmd.env("NO_COLOR", "1");
    let r = run_with(cmd, &["--color", "always", "compile", "-f", TYPOS], None);
    assert_eq!(r.code, 1);
    assert!(has_escape(&r.stderr), "{:?}", r.stderr);
}

#[test]
fn clicolor_force_colours_diagnostics_in_a_pipe() {
    let mut cmd = cordium();
    cmd.env("CLICOLOR_FORCE", "1");
    let r = run_with(cmd, &["validate", TYPOS], None);
    assert_eq!(r.code, 1);
    assert!(has_escape(&r.stderr), "{:?}", r.stderr);
}

#[test]
fn a_pipe_gets_no_colour_by_default() {
    let r = run(&["validate", TYPOS]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("error[spec::type]"), "{}", r.stderr);
    assert!(!has_escape(&r.stderr), "{:?}", r.stderr);
}

#[test]
fn no_color_turns_colour_off_even_when_forced() {
    let mut cmd = cordium();
    cmd.env("NO_COLOR", "1").env("CLICOLOR_FORCE", "1");
    let r = run_with(cmd, &["compile", "-f", TYPOS], None);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("error[spec::type]"), "{}", r.stderr);
    assert!(!has_escape(&r.stderr), "{:?}", r.stderr);
}

#[test]
fn color_never_turns_colour_off_even_when_forced() {
    let mut cmd = cordium();
    cmd.env("CLICOLOR_FORCE", "1");
    let r = run_with(cmd, &["--color", "never", "validate", TYPOS], None);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("error[spec::type]"), "{}", r.stderr);
    assert!(!has_escape(&r.stderr), "{:?}", r.stderr);
}

#[test]
fn results_on_stdout_are_never_coloured() {
    let r = run(&["--color", "always", "compile", "-f", SEED]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(!has_escape(&r.stdout), "{:?}", r.stdout);
}

// ---------------------------------------------------------------------------------------------
// test

const CASE_WORKSPACE: &str = "\
apiVersion: cordium/v1
kind: Workspace
metadata: {name: golden}
spec:
  image: {registry: {url: python:3.11-slim}}
  repository:
    url: https://example.com/${{ vars.ORG }}/repo
";

/// A folder of four cases: `fails` expects the wrong image; `needs-var` reads `args`;
/// `undefined` expects an error; `works` expects what compile prints.
fn golden_cases(expected: &str, expected_with_var: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let case = |name: &str, files: &[(&str, &str)]| {
        let folder = dir.path().join(name);
        std::fs::create_dir(&folder).expect("a case folder");
        for (file, text) in files {
            std::fs::write(folder.join(file), text).expect("a case file");
        }
    };
    let defined = CASE_WORKSPACE.replace("${{ vars.ORG }}", "acme");
    case(
        "works",
        &[("ws.yaml", &defined), ("expected.yaml", expected)],
    );
    case(
        "fails",
        &[
            ("ws.yaml", &defined),
            (
                "expected.yaml",
                &expected.replace("python:3.11-slim", "python:3.12"),
            ),
        ],
    );
    case(
        "needs-var",
        &[
            ("ws.yaml", CASE_WORKSPACE),
            ("args", "--var ORG=acme\n"),
            ("expected.yaml", expected_with_var),
        ],
    );
    case(
        "undefined",
        &[
            ("ws.yaml", CASE_WORKSPACE),
            ("expected-error.txt", "undefined variable `ORG`\n"),
        ],
    );
    dir
}

#[test]
fn test_command_runs_cases_reports_diffs_and_blesses() {
    let defined = CASE_WORKSPACE.replace("${{ vars.ORG }}", "acme");
    let expected = run_with(cordium(), &["compile", "-f", "-"], Some(&defined));
    assert_eq!(expected.code, 0, "{expected:?}");
    let with_var = run_with(
        cordium(),
        &["compile", "-f", "-", "--var", "ORG=acme"],
        Some(CASE_WORKSPACE),
    );
    assert_eq!(with_var.code, 0, "{with_var:?}");
    let dir = golden_cases(&expected.stdout, &with_var.stdout);
    let folder = dir.path().to_str().expect("a UTF-8 path");

    let r = run(&["test", folder]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stdout.contains("test fails ... FAILED\n"), "{}", r.stdout);
    assert!(
        r.stdout
            .contains("-      url: python:3.12\n+      url: python:3.11-slim\n"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("test needs-var ... ok\n"), "{}", r.stdout);
    assert!(r.stdout.contains("test undefined ... ok\n"), "{}", r.stdout);
    assert!(r.stdout.contains("test works ... ok\n"), "{}", r.stdout);
    assert!(r.stdout.ends_with("\n3 passed, 1 failed\n"), "{}", r.stdout);

    let r = run(&["test", folder, "--bless"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout.contains("test fails ... blessed\n"),
        "{}",
        r.stdout
    );
    let blessed = std::fs::read_to_string(dir.path().join("fails/expected.yaml")).expect("blessed");
    assert_eq!(blessed, expected.stdout);
    let blessed =
        std::fs::read_to_string(dir.path().join("undefined/expected-error.txt")).expect("blessed");
    assert!(blessed.contains("undefined variable `ORG`"), "{blessed}");

    let r = run(&["test", folder]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.ends_with("\n4 passed, 0 failed\n"), "{}", r.stdout);
}

#[test]
fn test_command_on_a_missing_folder_is_a_usage_error() {
    let r = run(&["test", "no/such/folder"]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr.starts_with("error: cannot read no/such/folder"),
        "{}",
        r.stderr
    );
}

// ---------------------------------------------------------------------------------------------
// schema

#[test]
fn schema_prints_the_any_kind_schema() {
    let r = run(&["schema"]);
    assert_eq!(r.code, 0, "{r:?}");
    let schema: serde_json::Value = serde_json::from_str(&r.stdout).expect("stdout is JSON");
    assert_eq!(
        schema["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
}

#[test]
fn schema_of_one_kind_ignores_case() {
    let exact = run(&["schema", "Workspace"]);
    assert_eq!(exact.code, 0, "{exact:?}");
    let schema: serde_json::Value = serde_json::from_str(&exact.stdout).expect("stdout is JSON");
    assert_eq!(schema["properties"]["kind"]["const"], "Workspace");
    assert!(schema.to_string().contains("isEphemeral"));
    let lower = run(&["schema", "workspace"]);
    assert_eq!(lower.stdout, exact.stdout);
}

#[test]
fn schema_of_an_unknown_kind_is_a_usage_error() {
    let r = run(&["schema", "Bogus"]);
    assert_eq!(r.code, 2, "{r:?}");
    assert_eq!(r.stdout, "");
    assert!(
        r.stderr
            .starts_with("error: unknown kind `Bogus`; expected one of Workspace,"),
        "{}",
        r.stderr
    );
}

#[test]
fn schema_write_matches_the_committed_schemas() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let r = run(&[
        "schema",
        "--write",
        dir.path().to_str().expect("a UTF-8 path"),
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    let written: Vec<PathBuf> = std::fs::read_dir(dir.path())
        .expect("the folder")
        .map(|e| e.expect("an entry").path())
        .collect();
    assert!(
        written.iter().any(|p| p.ends_with("cordium.schema.json")),
        "{written:?}"
    );
    for path in &written {
        let name = path.file_name().expect("a file name");
        let committed =
            std::fs::read_to_string(root().join("schemas").join(name)).expect("a committed schema");
        let fresh = std::fs::read_to_string(path).expect("the written schema");
        assert!(
            fresh == committed,
            "schemas/{} is stale; run `cordium schema --write schemas`",
            name.display()
        );
    }
}

// ---------------------------------------------------------------------------------------------
// usage errors, help and version

#[test]
fn an_unknown_flag_is_a_usage_error() {
    for args in [
        &["compile", "-f", WORKSPACE, "--bogus"][..],
        &["validate", "--bogus", TYPOS],
        &["--bogus"],
    ] {
        let r = run(args);
        assert_eq!(r.code, 2, "{args:?}: {r:?}");
        assert!(
            r.stderr.contains("unexpected argument '--bogus'"),
            "{}",
            r.stderr
        );
        assert_eq!(r.stdout, "");
    }
}

#[test]
fn missing_arguments_are_usage_errors() {
    for args in [
        &[][..],
        &["compile"],
        &["explain"],
        &["validate"],
        &["test"],
        &["frobnicate"],
    ] {
        let r = run(args);
        assert_eq!(r.code, 2, "{args:?}: {r:?}");
        assert!(
            r.stderr.contains("Usage: cordium"),
            "{args:?}: {}",
            r.stderr
        );
    }
}

#[test]
fn a_missing_file_is_a_usage_error() {
    for args in [
        &["compile", "-f", WORKSPACE, "-f", "no-such.yaml"][..],
        &["compile", "-f", WORKSPACE, "--repo-file", "no-such.yaml"],
        &["explain", "-f", "no-such.yaml"],
        &["validate", TYPOS, "no-such.yaml"],
    ] {
        let r = run(args);
        assert_eq!(r.code, 2, "{args:?}: {r:?}");
        assert!(
            r.stderr.starts_with("error: cannot read no-such.yaml: "),
            "{args:?}: {}",
            r.stderr
        );
        assert_eq!(r.stdout, "");
    }
}

#[test]
fn a_file_that_is_not_utf8_is_invalid_input_at_its_first_bad_byte() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let path = dir.path().join("latin1.yaml");
    std::fs::write(&path, b"kind: Workspace\nspec: {image: \xe9}\n").expect("the file");
    let path = path.to_str().expect("a UTF-8 path");
    for args in [&["validate", path][..], &["compile", "-f", path]] {
        let command = args[0];
        let r = run(args);
        assert_eq!(r.code, 1, "{command}: {r:?}");
        assert!(
            r.stderr.contains(
                "error[spec::encoding]: the file is not UTF-8 text: byte 0xE9 at offset 30"
            ),
            "{command}: {}",
            r.stderr
        );
        assert!(
            r.stderr.contains("latin1.yaml:2:15"),
            "{command}: {}",
            r.stderr
        );
    }
}

#[test]
fn a_diagnostic_on_a_huge_line_shows_the_part_around_the_caret() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let path = dir.path().join("minified.json");
    let padding = "x".repeat(1 << 20);
    std::fs::write(
        &path,
        format!(r#"{{"kind": "Workspace", "metadata": {{"displayName": "{padding}"}}, "spec": {{"image": 5}}}}"#),
    )
    .expect("the file");
    let r = run(&["validate", path.to_str().expect("a UTF-8 path")]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.len() < 2_000, "{} bytes of stderr", r.stderr.len());
    assert!(r.stderr.contains("minified.json:1:"), "{}", r.stderr);
    assert!(r.stderr.contains("…"), "{}", r.stderr);
}

#[test]
fn every_command_help_shows_an_example() {
    for command in ["compile", "explain", "validate", "test", "schema"] {
        let r = run(&[command, "--help"]);
        assert_eq!(r.code, 0, "{command}: {r:?}");
        assert!(
            r.stdout.contains(&format!("Example: cordium {command} ")),
            "{command}: {}",
            r.stdout
        );
        assert!(
            r.stdout.contains(&format!("Usage: cordium {command}")),
            "{command}: {}",
            r.stdout
        );
        assert_eq!(r.stderr, "");
    }
    let r = run(&["--help"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout
            .contains("Exit codes: 0 success, 1 invalid input, 2 usage error"),
        "{}",
        r.stdout
    );
    for command in ["compile", "explain", "validate", "test", "schema"] {
        assert!(
            r.stdout.contains(&format!("  {command} ")),
            "{command}: {}",
            r.stdout
        );
    }
}

#[test]
fn version_prints_the_package_version() {
    let r = run(&["--version"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.stdout, format!("cordium {}\n", env!("CARGO_PKG_VERSION")));
}

// ---------------------------------------------------------------------------------------------
// a closed pipe

#[test]
fn a_reader_that_closes_early_ends_the_output_quietly() {
    // 128 variables of 1000 bytes: the output (about 130 KB) is larger than a pipe's buffer
    // (64 KiB on Linux) plus what the reader takes in, so cordium is still writing when the
    // reader goes away and its write fails with EPIPE.
    let value = "x".repeat(1000);
    let mut doc = String::from("spec:\n  runtime:\n    envVars:\n");
    for i in 0..128 {
        doc.push_str(&format!("      - key: VAR_{i}\n        value: v{value}\n"));
    }
    let (_dir, path) = temp_file("big.yaml", &doc);

    let mut child = cordium()
        .args(["compile", "-f", path.to_str().expect("a UTF-8 path")])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cordium starts");
    let mut reader = BufReader::new(child.stdout.take().expect("stdout is piped"));
    let mut first = String::new();
    reader.read_line(&mut first).expect("the first line");
    assert_eq!(first, "apiVersion: cordium/v1\n");
    drop(reader);

    let output = child.wait_with_output().expect("cordium finishes");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(stderr, "", "nothing on stderr");
    assert_eq!(output.status.code(), Some(0), "{:?}", output.status);
}

/// A file with a mistake on every line shows the first `MAX_SHOWN` (100) to a person and
/// counts the rest; JSON, for tools, lists every one. Rendering each is a search of a line
/// index, so many mistakes cost each its own line (before, each rescanned the text before it:
/// 16,000 mistakes took 2.4 s).
#[test]
fn many_mistakes_show_the_first_hundred_and_count_the_rest() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let path = dir.path().join("many.yaml");
    let mut text =
        String::from("kind: Workspace\nmetadata: {name: many}\nspec:\n  runtime:\n    envVars:\n");
    for i in 0..120 {
        text.push_str(&format!("      - {{name: '{i}bad', value: x}}\n"));
    }
    std::fs::write(&path, text).expect("the file");
    let path = path.to_str().expect("a UTF-8 path");
    let json = run(&["validate", "--message-format", "json", path]);
    assert_eq!(json.code, 1, "{json:?}");
    let total = json.stderr.lines().count();
    assert!(total > 200, "{total} mistakes listed");
    let human = run(&["validate", path]);
    assert_eq!(human.code, 1, "{human:?}");
    let shown = human
        .stderr
        .lines()
        .filter(|l| l.starts_with("error["))
        .count();
    assert_eq!(shown, 100);
    assert!(
        human
            .stderr
            .contains(&format!("... and {} more not shown", total - 100)),
        "{}",
        human.stderr
    );
    assert!(
        human
            .stderr
            .contains(&format!("error: {total} problems found")),
        "{}",
        human.stderr
    );
}

#[test]
fn controls_in_a_hostile_file_are_shown_not_sent_to_the_terminal() {
    // An escape sequence written raw (it retitles the window and clears the screen), shown in
    // the source line of a syntax error; and one written as escapes in a key reported as
    // unknown, so in the message and its help.
    let raw = "kind: Workspace\nspec:\n  image: \"\u{1b}]0;pwned\u{7}\u{1b}[2J\"\n";
    let escaped = "kind: Workspace\nspec:\n  \"k\\e[2J\\a\\u202e\\r\": 1\n";
    for (name, text, shown) in [
        ("raw.yaml", raw, "␛]0;pwned␇␛[2J"),
        ("escaped.yaml", escaped, "k␛[2J␇�␍"),
    ] {
        let (_dir, path) = temp_file(name, text);
        // `always`: the colour adapter passes escape sequences through, as on a terminal.
        let r = run(&[
            "--color",
            "always",
            "validate",
            path.to_str().expect("a UTF-8 path"),
        ]);
        assert_eq!(r.code, 1, "{r:?}");
        assert!(
            !without_colours(&r.stderr).contains(['\u{1b}', '\u{7}', '\r', '\u{202e}']),
            "a control reached the terminal: {:?}",
            r.stderr
        );
        assert!(r.stderr.contains(shown), "{name}: {:?}", r.stderr);
    }
}

#[test]
fn explain_shows_controls_in_values_rather_than_sending_them() {
    let (_dir, path) = temp_file(
        "esc.yaml",
        "apiVersion: cordium/v1\nkind: Workspace\nspec:\n  runtime:\n    cmd: \"echo \\e[2J\\r\"\n    envVars: [{key: A, value: \"x\\e]0;t\\a\"}]\n",
    );
    let r = run(&["explain", "-f", path.to_str().expect("a UTF-8 path")]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        !r.stdout.contains(['\u{1b}', '\u{7}', '\r']),
        "{:?}",
        r.stdout
    );
    assert!(
        r.stdout.contains("echo ␛[2J␍") && r.stdout.contains("x␛]0;t␇"),
        "{}",
        r.stdout
    );
}

/// `text` without the colour sequences the CLI writes itself (`ESC [ digits ; m`).
fn without_colours(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find("\u{1b}[") {
        out.push_str(&rest[..at]);
        let after = &rest[at + 2..];
        let params = after
            .find(|c: char| !(c.is_ascii_digit() || c == ';'))
            .unwrap_or(after.len());
        if after[params..].starts_with('m') {
            rest = &after[params + 1..];
        } else {
            out.push('\u{1b}');
            rest = &rest[at + 1..];
        }
    }
    out.push_str(rest);
    out
}
