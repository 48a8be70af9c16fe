//! `cordium test DIR [--bless]`: golden tests of compile cases.

use super::{Failure, compile_files};
use crate::args::{CompileArgs, TestArgs};
use crate::exit::{INVALID, OK, USAGE};
use crate::output::Output;
use crate::render;
use clap::Parser;
use std::path::{Path, PathBuf};

const EXPECTED: &str = "expected.yaml";
const EXPECTED_ERROR: &str = "expected-error.txt";
const REPOSITORY_FILE: &str = "repository-file.yaml";
const ARGS: &str = "args";

#[derive(Parser)]
#[command(name = "args", no_binary_name = true)]
struct CaseArgs {
    #[command(flatten)]
    compile: CompileArgs,
}

enum Verdict {
    Pass,
    Fail(String),
    Blessed,
}

/// Runs every case folder of `args.dir`.
pub(crate) fn run(args: &TestArgs, out: &mut Output) -> i32 {
    let mut cases: Vec<PathBuf> = match std::fs::read_dir(&args.dir) {
        Ok(entries) => entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.is_dir())
            .collect(),
        Err(e) => {
            out.err(&format!("error: cannot read {}: {e}\n", args.dir.display()));
            return USAGE;
        }
    };
    cases.sort();
    let (mut passed, mut failed) = (0, 0);
    for case in &cases {
        let name = case
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        match run_case(case, args.bless) {
            Ok(Verdict::Pass) => {
                passed += 1;
                out.out(&format!("test {name} ... ok\n"));
            }
            Ok(Verdict::Blessed) => {
                passed += 1;
                out.out(&format!("test {name} ... blessed\n"));
            }
            Ok(Verdict::Fail(detail)) => {
                failed += 1;
                out.out(&format!("test {name} ... FAILED\n{detail}\n"));
            }
            Err(e) => {
                failed += 1;
                out.out(&format!("test {name} ... FAILED\n  {e}\n"));
            }
        }
    }
    out.out(&format!("\n{passed} passed, {failed} failed\n"));
    if failed > 0 { INVALID } else { OK }
}

fn run_case(case: &Path, bless: bool) -> Result<Verdict, String> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(case)
        .map_err(|e| format!("cannot read the case: {e}"))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            let input_ext = p
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| matches!(e, "yaml" | "yml" | "json"));
            input_ext && name != EXPECTED && name != REPOSITORY_FILE
        })
        .collect();
    files.sort();
    let mut argv: Vec<String> = Vec::new();
    for file in &files {
        argv.push("-f".into());
        argv.push(file.display().to_string());
    }
    let repo = case.join(REPOSITORY_FILE);
    if repo.exists() {
        argv.push("--repo-file".into());
        argv.push(repo.display().to_string());
    }
    if let Ok(extra) = std::fs::read_to_string(case.join(ARGS)) {
        for line in extra
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
        {
            match line.split_once(char::is_whitespace) {
                Some((flag, value)) => {
                    argv.push(flag.into());
                    argv.push(value.trim().into());
                }
                None => argv.push(line.into()),
            }
        }
    }
    let args = CaseArgs::try_parse_from(&argv)
        .map_err(|e| format!("bad `args` file: {}", e.to_string().trim()))?;
    let actual = match compile_files(&args.compile, Some(case), false) {
        Ok((_, compiled)) => Ok(compiled.effective.to_yaml()),
        Err(Failure::Usage(e)) => return Err(e.to_string()),
        Err(Failure::Invalid(sources, diagnostics)) => Err(diagnostics
            .iter()
            .map(|d| anstream::adapter::strip_str(&render::human(d, &sources)).to_string())
            .collect::<Vec<_>>()
            .join("\n")),
    };
    let expected_path = case.join(EXPECTED);
    let error_path = case.join(EXPECTED_ERROR);
    if bless {
        let written =
            match &actual {
                Ok(yaml) => std::fs::write(&expected_path, yaml)
                    .and_then(|()| remove_if_exists(&error_path)),
                Err(text) => std::fs::write(&error_path, text)
                    .and_then(|()| remove_if_exists(&expected_path)),
            };
        written.map_err(|e| format!("cannot write the expectation: {e}"))?;
        return Ok(Verdict::Blessed);
    }
    if let Ok(expected) = std::fs::read_to_string(&expected_path) {
        return Ok(match actual {
            Ok(yaml) if yaml == expected => Verdict::Pass,
            Ok(yaml) => Verdict::Fail(diff(&expected, &yaml)),
            Err(errors) => Verdict::Fail(format!(
                "  expected an EffectiveWorkspace, but compile failed:\n{}",
                indent(&errors)
            )),
        });
    }
    if let Ok(expected) = std::fs::read_to_string(&error_path) {
        return Ok(match actual {
            Err(errors) => {
                let missing: Vec<&str> = expected
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty() && !errors.contains(l))
                    .collect();
                if missing.is_empty() {
                    Verdict::Pass
                } else {
                    Verdict::Fail(format!(
                        "  the errors do not contain:\n{}\n  the errors were:\n{}",
                        indent(&missing.join("\n")),
                        indent(&errors)
                    ))
                }
            }
            Ok(yaml) => Verdict::Fail(format!(
                "  expected an error, but compile succeeded:\n{}",
                indent(&yaml)
            )),
        });
    }
    Err(format!(
        "no {EXPECTED} or {EXPECTED_ERROR}; run with --bless to create one"
    ))
}

fn remove_if_exists(path: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn diff(expected: &str, actual: &str) -> String {
    similar::TextDiff::from_lines(expected, actual)
        .unified_diff()
        .context_radius(3)
        .header("expected.yaml", "actual")
        .to_string()
}
