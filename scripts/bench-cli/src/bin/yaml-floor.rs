//! The floor of `cordium compile`: parse the same files with serde_yaml into
//! `serde_yaml::Value` and print them as one document, JSON (serde_json, pretty, as
//! `cordium compile -o json`) or YAML (serde_yaml, as `-o yaml`).
//!
//! Usage: yaml-floor json|yaml FILE...

use serde::Deserialize as _;
use std::io::Write as _;
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let format = args.next().unwrap_or_default();
    let mut values = Vec::new();
    for path in args {
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) => {
                eprintln!("{path}: {e}");
                return ExitCode::FAILURE;
            }
        };
        for document in serde_yaml::Deserializer::from_str(&text) {
            match serde_yaml::Value::deserialize(document) {
                Ok(value) => values.push(value),
                Err(e) => {
                    eprintln!("{path}: {e}");
                    return ExitCode::FAILURE;
                }
            }
        }
    }
    let out = match format.as_str() {
        "json" => serde_json::to_string_pretty(&values)
            .map(|s| s + "\n")
            .map_err(|e| e.to_string()),
        "yaml" => serde_yaml::to_string(&values).map_err(|e| e.to_string()),
        _ => Err("usage: yaml-floor json|yaml FILE...".to_owned()),
    };
    match out {
        Ok(text) if std::io::stdout().lock().write_all(text.as_bytes()).is_ok() => {
            ExitCode::SUCCESS
        }
        Ok(_) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}
