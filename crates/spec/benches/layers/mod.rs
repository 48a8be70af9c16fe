//! Realistic generated layer files for the benches (shared by `cordium-spec`'s `parse` bench
//! and, through `#[path]`, `cordium-merge`'s `compile` bench).
//!
//! [`generate`] writes five single-document YAML files: a ClusterConfig (defaults, caps, a
//! default image, capabilities: the kind has no environment variables), a Space, a Template, a
//! UserConfig and a Workspace, each of the last four with `env` environment variables, tasks,
//! and `${{ vars.X }}` references to the variables the Template defines (the Workspace
//! overrides some of them). Every generated set loads without a diagnostic and compiles.
//!
//! Validation allows at most 128 entries in one `envVars` list, so a layer puts at most
//! [`TOP_LEVEL_ENV`] variables in its runtime `envVars` and the rest in its tasks' `envVars`
//! ([`PER_TASK_ENV`] per task): 8 and 40 variables are all top-level; 400 are 120 top-level
//! plus 7 tasks of 40.
//!
//! A quarter of the top-level keys (`SHARED_<i>`) are written by every layer, so the keyed merge
//! replaces them; the others are the layer's own. One value in five holds a reference.

#![allow(dead_code, reason = "each bench uses part of the generator")]

use std::fmt::Write as _;

/// At most this many variables go in a layer's runtime `envVars` (validation allows 128).
pub(crate) const TOP_LEVEL_ENV: usize = 120;
/// Variables per task `envVars` for the rest.
pub(crate) const PER_TASK_ENV: usize = 40;

/// One generated input set: `(file name, text)` per layer, lowest precedence first.
pub(crate) type Files = Vec<(&'static str, String)>;

/// How many `VAR_<i>` variables the Template defines for `env` variables per layer.
pub(crate) fn var_count(env: usize) -> usize {
    (env / 5).max(4)
}

/// The five layer files for `env` environment variables per layer.
pub(crate) fn generate(env: usize) -> Files {
    let vars = var_count(env);
    vec![
        ("cluster.yaml", cluster()),
        ("user.yaml", user_config(env, vars)),
        ("space.yaml", space(env, vars)),
        ("template.yaml", template(env, vars)),
        ("workspace.yaml", workspace(env, vars)),
    ]
}

/// Total bytes of a set.
pub(crate) fn bytes(files: &Files) -> usize {
    files.iter().map(|(_, t)| t.len()).sum()
}

/// The five example layers of `fixtures/examples`.
pub(crate) fn examples() -> Files {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/examples");
    [
        "cluster.yaml",
        "user.yaml",
        "space.yaml",
        "template.yaml",
        "workspace.yaml",
    ]
    .into_iter()
    .map(|name| {
        let path = format!("{dir}/{name}");
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        (name, text)
    })
    .collect()
}

/// What kind of secret a layer's environment variables may name.
#[derive(Clone, Copy)]
enum Secrets {
    None,
    Space,
    User,
}

fn header(out: &mut String, kind: &str, name: &str) {
    let _ = write!(
        out,
        "apiVersion: cordium/v1\nkind: {kind}\nmetadata:\n  name: {name}\n"
    );
}

/// One environment variable entry at `indent` spaces (the `- ` included).
fn env_entry(
    out: &mut String,
    indent: usize,
    key: &str,
    i: usize,
    prefix: &str,
    vars: usize,
    secrets: Secrets,
) {
    let pad = " ".repeat(indent);
    let _ = writeln!(out, "{pad}- key: {key}");
    match (i % 7, secrets) {
        (3, Secrets::Space) => {
            let _ = writeln!(
                out,
                "{pad}  fromSecret: {}-secret-{i}",
                prefix.to_lowercase()
            );
            return;
        }
        (3, Secrets::User) => {
            let _ = writeln!(
                out,
                "{pad}  fromUserSecret: {}-secret-{i}",
                prefix.to_lowercase()
            );
            return;
        }
        _ => {}
    }
    match i % 5 {
        2 => {
            let _ = writeln!(
                out,
                "{pad}  value: \"${{{{ vars.VAR_{} }}}}/{}/{i}\"",
                i % vars,
                prefix.to_lowercase()
            );
        }
        4 => {
            let _ = writeln!(out, "{pad}  value: \"{}\"", 1000 + i);
        }
        _ => {
            let _ = writeln!(out, "{pad}  value: {}-value-{i}", prefix.to_lowercase());
        }
    }
}

/// `envVars:` and `tasks:` at `indent` for `env` variables.
fn env_and_tasks(
    out: &mut String,
    indent: usize,
    prefix: &str,
    env: usize,
    vars: usize,
    secrets: Secrets,
) {
    let pad = " ".repeat(indent);
    let top = env.min(TOP_LEVEL_ENV);
    let rest = env - top;
    let _ = writeln!(out, "{pad}envVars:");
    for i in 0..top {
        let key = if i % 4 == 0 {
            format!("SHARED_{i}")
        } else {
            format!("{prefix}_{i}")
        };
        env_entry(out, indent + 2, &key, i, prefix, vars, secrets);
    }
    let tasks = 2 + rest.div_ceil(PER_TASK_ENV);
    let lower = prefix.to_lowercase();
    let _ = writeln!(out, "{pad}tasks:");
    for t in 0..tasks {
        let _ = writeln!(out, "{pad}  - name: {lower}-task-{t}");
        if t % 2 == 0 {
            let _ = writeln!(
                out,
                "{pad}    run: make -C ${{{{ vars.VAR_{} }}}} step-{t}",
                t % vars
            );
        } else {
            let _ = writeln!(
                out,
                "{pad}    run: echo \"{lower} step {t}\" && ./scripts/step.sh {t}"
            );
        }
        let _ = writeln!(
            out,
            "{pad}    type: {}",
            if t == 0 { "ON_CREATE" } else { "POST_START" }
        );
        let _ = writeln!(out, "{pad}    workingDir: /workspace/repo");
        if t % 3 == 2 {
            let _ = writeln!(out, "{pad}    isBackground: true");
        }
        let chunk = rest
            .saturating_sub(t.saturating_sub(2) * PER_TASK_ENV)
            .min(PER_TASK_ENV);
        if t >= 2 && chunk > 0 {
            let _ = writeln!(out, "{pad}    envVars:");
            for j in 0..chunk {
                let _ = writeln!(out, "{pad}      - key: {prefix}_T{t}_{j}");
                if j % 5 == 2 {
                    let _ = writeln!(
                        out,
                        "{pad}        value: \"${{{{ vars.VAR_{} }}}}-{j}\"",
                        j % vars
                    );
                } else {
                    let _ = writeln!(out, "{pad}        value: {lower}-task-{t}-{j}");
                }
            }
        }
    }
}

fn cluster() -> String {
    let mut out = String::new();
    header(&mut out, "ClusterConfig", "cluster");
    out.push_str(
        "spec:
  workspace:
    defaultImage:
      registry:
        url: ghcr.io/cordium/base:1
    limit:
      maxPerUser: 20
      defaultUserSpaceLimit:
        memory: {megabytes: 4096}
      defaultOrganizationSpaceLimit:
        cpu: {millicores: 4000}
        memory: {megabytes: 8192}
        storage: {megabytes: 40000}
      maxLimit:
        cpu: {millicores: 16000}
        memory: {megabytes: 32768}
        storage: {megabytes: 200000}
      buildLimit:
        cpu: {millicores: 8000}
    runtime:
      capabilities:
        add: [NET_BIND_SERVICE]
        drop: [SYS_ADMIN]
",
    );
    out
}

fn user_config(env: usize, vars: usize) -> String {
    let mut out = String::new();
    header(&mut out, "UserConfig", "alice");
    out.push_str("spec:\n  dotfiles:\n    url: https://github.com/alice/dotfiles\n");
    env_and_tasks(&mut out, 2, "USER", env, vars, Secrets::User);
    out
}

fn space(env: usize, vars: usize) -> String {
    let mut out = String::new();
    header(&mut out, "Space", "backend.cordium");
    out.push_str(
        "  displayName: Backend team
spec:
  limit:
    defaultLimit:
      cpu: {millicores: 2000}
    maxLimit:
      cpu: {millicores: 8000}
      memory: {megabytes: 16384}
  runtime:
",
    );
    env_and_tasks(&mut out, 4, "SPACE", env, vars, Secrets::Space);
    out.push_str("    capabilities:\n      add: [NET_BIND_SERVICE, NET_RAW]\n");
    out
}

fn template(env: usize, vars: usize) -> String {
    let mut out = String::new();
    header(&mut out, "Template", "python.backend.cordium");
    out.push_str(
        "spec:
  image:
    registry:
      url: python:3.11-slim
  repository:
    url: https://github.com/${{ vars.ORG }}/api-service
    cloneOptions:
      branch: ${{ vars.BRANCH }}
  limit:
    cpu: {millicores: 4000}
    memory: {megabytes: 8192}
  runtime:
",
    );
    env_and_tasks(&mut out, 4, "TEMPLATE", env, vars, Secrets::Space);
    out.push_str(
        "  vars:\n    - name: ORG\n      value: myorg\n    - name: BRANCH\n      value: main\n",
    );
    for v in 0..vars {
        let _ = write!(out, "    - name: VAR_{v}\n      value: template-{v}\n");
    }
    out
}

fn workspace(env: usize, vars: usize) -> String {
    let mut out = String::new();
    header(&mut out, "Workspace", "api");
    out.push_str("spec:\n  runtime:\n");
    env_and_tasks(&mut out, 4, "WORKSPACE", env, vars, Secrets::Space);
    out.push_str(
        "  applications:
    - name: web
      port: 3000
      isDefault: true
    - name: docs
      port: 8080
  limit:
    cpu: {millicores: 16000}
  vars:
    - name: BRANCH
      value: dev
",
    );
    for v in (0..vars).step_by(3) {
        let _ = write!(out, "    - name: VAR_{v}\n      value: workspace-{v}\n");
    }
    out
}
