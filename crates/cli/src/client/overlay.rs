//! The spec `cordium run` sends: the `--file` document's `spec` (or an empty one) with the
//! spec flags applied on top, in wire names:
//!
//! | flag | field | on top of the document |
//! |---|---|---|
//! | `--image URL` | `image.registry.url` | replaces the whole `image` choice |
//! | `--repository URL` | `repository.url` | sets the URL, keeps the rest |
//! | `--branch B` | `repository.cloneOptions.branch` | sets it |
//! | `--env KEY=VALUE` | `runtime.envVars[] {key, value}` | replaces the entry of that key, else appends |
//! | `--env-from-secret KEY=SECRET` | `runtime.envVars[] {key, fromSecret}` | the same |
//! | `--port [NAME:]PORT[:default]` | `applications[] {name, port, isDefault}` | replaces the entry of that name, else appends |
//! | `--ephemeral` | `isEphemeral: true` | sets it (without the flag, the document's value stands) |
//! | `--cpu` | `limit.cpu.millicores` | sets it |
//! | `--memory` | `limit.memory.megabytes` | sets it |
//!
//! `--env` entries come before `--env-from-secret` ones, each in command-line order. `--var`
//! is not part of the spec: the values go with StartWorkspace as run variables.

use crate::args::RunArgs;
use serde_json::{Map, Value as Json, json};

/// Applies the spec flags of `args` to `spec`; returns whether any was given.
pub(super) fn apply(spec: &mut Map<String, Json>, args: &RunArgs) -> bool {
    let mut changed = false;
    if let Some(url) = &args.image {
        spec.insert("image".into(), json!({"registry": {"url": url}}));
        changed = true;
    }
    if let Some(url) = &args.repository {
        object(spec, "repository").insert("url".into(), json!(url));
        changed = true;
    }
    if let Some(branch) = &args.branch {
        let repository = object(spec, "repository");
        object(repository, "cloneOptions").insert("branch".into(), json!(branch));
        changed = true;
    }
    let literal = args.env.iter().map(|(k, v)| json!({"key": k, "value": v}));
    let secret = args
        .env_from_secret
        .iter()
        .map(|(k, s)| json!({"key": k, "fromSecret": s}));
    for entry in literal.chain(secret) {
        let runtime = object(spec, "runtime");
        upsert(array(runtime, "envVars"), "key", entry);
        changed = true;
    }
    for port in &args.ports {
        let mut entry = json!({"name": port.name, "port": port.port});
        if port.is_default
            && let Some(map) = entry.as_object_mut()
        {
            map.insert("isDefault".into(), json!(true));
        }
        upsert(array(spec, "applications"), "name", entry);
        changed = true;
    }
    if args.ephemeral {
        spec.insert("isEphemeral".into(), json!(true));
        changed = true;
    }
    if let Some(millicores) = args.cpu {
        let limit = object(spec, "limit");
        limit.insert("cpu".into(), json!({"millicores": millicores}));
        changed = true;
    }
    if let Some(megabytes) = args.memory {
        let limit = object(spec, "limit");
        limit.insert("memory".into(), json!({"megabytes": megabytes}));
        changed = true;
    }
    changed
}

/// The mapping at `map[key]`, made (or made a mapping) if it is not one.
fn object<'a>(map: &'a mut Map<String, Json>, key: &str) -> &'a mut Map<String, Json> {
    let slot = map
        .entry(key.to_owned())
        .or_insert_with(|| Json::Object(Map::new()));
    if !slot.is_object() {
        *slot = Json::Object(Map::new());
    }
    match slot {
        Json::Object(m) => m,
        // Made a mapping just above.
        _ => unreachable!("a mapping"),
    }
}

/// The list at `map[key]`, made (or made a list) if it is not one.
fn array<'a>(map: &'a mut Map<String, Json>, key: &str) -> &'a mut Vec<Json> {
    let slot = map.entry(key.to_owned()).or_insert_with(|| json!([]));
    if !slot.is_array() {
        *slot = json!([]);
    }
    match slot {
        Json::Array(a) => a,
        // Made a list just above.
        _ => unreachable!("a list"),
    }
}

/// Replaces the entry whose `id` field equals `entry`'s, else appends `entry`.
fn upsert(list: &mut Vec<Json>, id: &str, entry: Json) {
    match list
        .iter_mut()
        .find(|e| e.get(id).is_some() && e.get(id) == entry.get(id))
    {
        Some(existing) => *existing = entry,
        None => list.push(entry),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::{Cli, Command, ServerCommand};
    use clap::Parser as _;

    fn run_args(flags: &[&str]) -> RunArgs {
        let argv = ["cordium", "run"].iter().chain(flags).copied();
        match Cli::try_parse_from(argv).map(|c| c.command) {
            Ok(Command::Server(ServerCommand::Run(command))) => command.flags,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn flags_land_on_their_wire_fields() {
        let args = run_args(&[
            "--image",
            "node:20",
            "--repository",
            "https://github.com/o/r",
            "-b",
            "dev",
            "-e",
            "A=1",
            "--env",
            "B=x=y",
            "--env-from-secret",
            "DB=db-url",
            "--port",
            "web:3000:default",
            "--port",
            "8080",
            "--ephemeral",
            "--cpu",
            "0.5",
            "--memory",
            "1Gi",
            "--var",
            "BRANCH=dev",
        ]);
        let mut spec = Map::new();
        assert!(apply(&mut spec, &args));
        assert_eq!(
            Json::Object(spec),
            json!({
                "image": {"registry": {"url": "node:20"}},
                "repository": {"url": "https://github.com/o/r", "cloneOptions": {"branch": "dev"}},
                "runtime": {"envVars": [
                    {"key": "A", "value": "1"},
                    {"key": "B", "value": "x=y"},
                    {"key": "DB", "fromSecret": "db-url"},
                ]},
                "applications": [
                    {"name": "web", "port": 3000, "isDefault": true},
                    {"name": "port-8080", "port": 8080},
                ],
                "isEphemeral": true,
                "limit": {"cpu": {"millicores": 500}, "memory": {"megabytes": 1024}},
            })
        );
        assert_eq!(args.vars, [("BRANCH".to_owned(), "dev".to_owned())]);
    }

    #[test]
    fn flags_override_the_document_and_keep_the_rest() {
        let args = run_args(&[
            "--image", "busybox", "-e", "A=flag", "--port", "web:9000", "--memory", "512",
        ]);
        let Json::Object(mut spec) = json!({
            "image": {"dockerfile": {"inline": "FROM x"}},
            "repository": {"url": "https://github.com/o/r", "cloneOptions": {"depth": 1}},
            "runtime": {"envVars": [{"key": "A", "value": "file"}, {"key": "C", "fromSecret": "s"}], "autoStop": true},
            "applications": [{"name": "web", "port": 3000, "isDefault": true}],
            "limit": {"cpu": {"millicores": 2000}},
            "isEphemeral": true,
        }) else {
            panic!("an object");
        };
        assert!(apply(&mut spec, &args));
        assert_eq!(
            Json::Object(spec),
            json!({
                "image": {"registry": {"url": "busybox"}},
                "repository": {"url": "https://github.com/o/r", "cloneOptions": {"depth": 1}},
                "runtime": {"envVars": [{"key": "A", "value": "flag"}, {"key": "C", "fromSecret": "s"}], "autoStop": true},
                "applications": [{"name": "web", "port": 9000}],
                "limit": {"cpu": {"millicores": 2000}, "memory": {"megabytes": 512}},
                "isEphemeral": true,
            })
        );
    }

    #[test]
    fn no_spec_flags_change_nothing() {
        let args = run_args(&["--var", "A=b", "--rm", "--space", "s.alice"]);
        let mut spec = Map::new();
        assert!(!apply(&mut spec, &args));
        assert!(spec.is_empty());
    }

    #[test]
    fn malformed_values_are_usage_errors() {
        for flags in [
            ["--port", "web:x"],
            ["--cpu", "lots"],
            ["--memory", "1T"],
            ["--env", "=x"],
            ["--env-from-secret", "NOEQUALS"],
        ] {
            let argv = ["cordium", "run"].iter().chain(&flags).copied();
            let e = Cli::try_parse_from(argv).expect_err("a usage error");
            assert_eq!(
                e.kind(),
                clap::error::ErrorKind::ValueValidation,
                "{flags:?}"
            );
        }
    }
}
