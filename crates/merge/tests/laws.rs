//! Property tests of the compiler's laws (contract sections 2, 3 and 5).
//!
//! - merging with empty layers is the identity;
//! - the higher layer dominates every leaf it sets (explicit `false`, `0` and `""` included);
//! - capping never raises a value and is idempotent (`limits::apply_caps`, and through compile);
//! - compile is deterministic, whatever the order of the documents;
//! - the provenance of each leaf names the highest layer that sets it and, nearest first, the
//!   lower ones it replaced (limits included);
//!
//! plus the seed example against its golden case.
#![allow(
    clippy::disallowed_methods,
    clippy::disallowed_types,
    reason = "tests and benches read fixtures and time runs; the purity rule (clippy.toml) is for the library"
)]

use cordium_merge::layer::Origin;
use cordium_merge::limits::{LimitSource, apply_caps};
use cordium_merge::{Compiled, Inputs, Layer, Options, compile};
use cordium_spec::{Diagnostics, SourceMap, load};
use proptest::prelude::*;
use std::fmt::Write as _;
use std::path::Path;

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        // Integration tests have no lib.rs to store regressions beside; shrunk cases are printed.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Loads each `(file name, text)` (asserting it is valid on its own) and compiles them, the
/// optional repository file as that layer.
fn compile_texts(
    files: &[(&str, String)],
    repo: Option<&str>,
    options: Options,
) -> Result<Compiled, Diagnostics> {
    let mut sources = SourceMap::new();
    let mut documents = Vec::new();
    for (name, text) in files {
        let id = sources.add(*name, text.as_str());
        let loaded = load(text, id);
        assert!(
            !loaded.has_errors(),
            "{name} is invalid: {:?}\n{text}",
            loaded.diagnostics
        );
        documents.extend(loaded.documents);
    }
    let repository_file = repo.map(|text| {
        let id = sources.add("repository-file.yaml", text);
        let loaded = load(text, id);
        assert!(
            !loaded.has_errors(),
            "the repository file is invalid: {:?}\n{text}",
            loaded.diagnostics
        );
        loaded.documents.into_iter().next().expect("one document")
    });
    let inputs = Inputs::from_documents(&sources, documents, repository_file, options)?;
    compile(inputs)
}

fn compiled(files: &[(&str, String)], repo: Option<&str>, options: Options) -> Compiled {
    compile_texts(files, repo, options)
        .unwrap_or_else(|d| panic!("compile failed: {d:?}\n{files:?}"))
}

fn json(c: &Compiled) -> serde_json::Value {
    serde_json::from_str(&c.effective.to_json()).expect("the output is JSON")
}

fn document(kind: &str, name: &str, spec: &str) -> String {
    let spec = if spec.is_empty() {
        " {}\n".to_owned()
    } else {
        format!("\n{spec}")
    };
    format!("apiVersion: cordium/v1\nkind: {kind}\nmetadata:\n  name: {name}\nspec:{spec}")
}

// ---------------------------------------------------------------------------------------------
// Scalar fields set by a layer

/// The scalar fields a Template, repository file and Workspace can all set, each optional.
#[derive(Debug, Clone, Default)]
struct Scalars {
    cmd: Option<String>,
    entrypoint: Option<String>,
    auto_stop: Option<bool>,
    disable_init: Option<bool>,
    read_only: Option<bool>,
    timeout: Option<&'static str>,
    depth: Option<u32>,
    branch: Option<String>,
    env_k: Option<String>,
    var_v: Option<String>,
    /// A second variable `T`, set by no other layer (to catch provenance leaking to siblings).
    var_t: Option<String>,
    cpu: Option<u32>,
    memory: Option<u32>,
}

/// `(JSON pointer in the output, provenance path)` of every field of [`Scalars`] but limits.
const LEAVES: &[(&str, &str)] = &[
    ("/spec/runtime/cmd", "spec.runtime.cmd"),
    ("/spec/runtime/entrypoint", "spec.runtime.entrypoint"),
    ("/spec/runtime/autoStop", "spec.runtime.autoStop"),
    ("/spec/runtime/disableInit", "spec.runtime.disableInit"),
    (
        "/spec/runtime/filesystem/readOnly",
        "spec.runtime.filesystem.readOnly",
    ),
    ("/spec/runtime/timeout/mode", "spec.runtime.timeout.mode"),
    (
        "/spec/repository/cloneOptions/depth",
        "spec.repository.cloneOptions.depth",
    ),
    (
        "/spec/repository/cloneOptions/branch",
        "spec.repository.cloneOptions.branch",
    ),
    (
        "/spec/runtime/envVars/0/value",
        "spec.runtime.envVars[0].value",
    ),
    ("/spec/vars/0/value", "spec.vars[0].value"),
];

impl Scalars {
    /// The values as JSON, in [`LEAVES`] order.
    fn values(&self) -> Vec<Option<serde_json::Value>> {
        use serde_json::Value;
        vec![
            self.cmd.clone().map(Value::from),
            self.entrypoint.clone().map(Value::from),
            self.auto_stop.map(Value::from),
            self.disable_init.map(Value::from),
            self.read_only.map(Value::from),
            self.timeout.map(Value::from),
            self.depth.map(Value::from),
            self.branch.clone().map(Value::from),
            self.env_k.clone().map(Value::from),
            self.var_v.clone().map(Value::from),
        ]
    }

    /// The spec body (indented two spaces), empty when nothing is set.
    fn spec(&self) -> String {
        let mut runtime = String::new();
        let q = |s: &str| format!("\"{s}\"");
        if let Some(v) = &self.cmd {
            writeln!(runtime, "    cmd: {}", q(v)).ok();
        }
        if let Some(v) = &self.entrypoint {
            writeln!(runtime, "    entrypoint: {}", q(v)).ok();
        }
        if let Some(v) = self.auto_stop {
            writeln!(runtime, "    autoStop: {v}").ok();
        }
        if let Some(v) = self.disable_init {
            writeln!(runtime, "    disableInit: {v}").ok();
        }
        if let Some(v) = self.read_only {
            writeln!(runtime, "    filesystem: {{readOnly: {v}}}").ok();
        }
        if let Some(v) = self.timeout {
            writeln!(runtime, "    timeout: {{mode: {v}}}").ok();
        }
        if let Some(v) = &self.env_k {
            writeln!(
                runtime,
                "    envVars:\n      - key: K\n        value: {}",
                q(v)
            )
            .ok();
        }
        let mut spec = String::new();
        if !runtime.is_empty() {
            write!(spec, "  runtime:\n{runtime}").ok();
        }
        let mut clone = String::new();
        if let Some(v) = self.depth {
            writeln!(clone, "      depth: {v}").ok();
        }
        if let Some(v) = &self.branch {
            writeln!(clone, "      branch: {}", q(v)).ok();
        }
        if !clone.is_empty() {
            write!(spec, "  repository:\n    cloneOptions:\n{clone}").ok();
        }
        let mut vars = String::new();
        for (name, value) in [("V", &self.var_v), ("T", &self.var_t)] {
            if let Some(v) = value {
                writeln!(vars, "    - name: {name}\n      value: {}", q(v)).ok();
            }
        }
        if !vars.is_empty() {
            write!(spec, "  vars:\n{vars}").ok();
        }
        let mut limit = String::new();
        if let Some(v) = self.cpu {
            writeln!(limit, "    cpu: {{millicores: {v}}}").ok();
        }
        if let Some(v) = self.memory {
            writeln!(limit, "    memory: {{megabytes: {v}}}").ok();
        }
        if !limit.is_empty() {
            write!(spec, "  limit:\n{limit}").ok();
        }
        spec
    }
}

/// Short strings, including the empty string (an explicit `""` counts as set).
fn text() -> impl Strategy<Value = String> {
    prop_oneof![1 => Just(String::new()), 4 => "[a-z][a-z0-9 ]{0,8}"]
}

/// Git refs, including the empty one (allowed).
fn git_ref() -> impl Strategy<Value = String> {
    prop_oneof![1 => Just(String::new()), 4 => "[a-z][a-z0-9]{0,8}"]
}

/// A limit value; 0 means "not set", so it is left out here.
fn limit_value() -> impl Strategy<Value = u32> {
    1u32..=64_000
}

prop_compose! {
    fn scalars()(
        cmd in proptest::option::of(text()),
        entrypoint in proptest::option::of(text()),
        auto_stop in proptest::option::of(any::<bool>()),
        disable_init in proptest::option::of(any::<bool>()),
        read_only in proptest::option::of(any::<bool>()),
        timeout in proptest::option::of(prop_oneof![Just("MODE_UNSET"), Just("DEFAULT"), Just("DISABLED")]),
        depth in proptest::option::of(0u32..50),
        branch in proptest::option::of(git_ref()),
        env_k in proptest::option::of(text()),
        var_v in proptest::option::of(text()),
        cpu in proptest::option::of(limit_value()),
        memory in proptest::option::of(limit_value()),
    ) -> Scalars {
        Scalars { cmd, entrypoint, auto_stop, disable_init, read_only, timeout, depth, branch, env_k, var_v, var_t: None, cpu, memory }
    }
}

// ---------------------------------------------------------------------------------------------
// Law: merging with empty layers is the identity

fn empty_layers() -> Vec<(&'static str, String)> {
    vec![
        (
            "template.yaml",
            document("Template", "base.team.cordium", ""),
        ),
        ("space.yaml", document("Space", "dev.alice", "")),
        ("user.yaml", document("UserConfig", "alice", "")),
        ("cluster.yaml", document("ClusterConfig", "cluster", "")),
    ]
}

proptest! {
    #![proptest_config(config(64))]

    #[test]
    fn empty_layers_are_the_identity(ws in scalars()) {
        let workspace = document("Workspace", "ws", &ws.spec());
        let alone = compiled(&[("workspace.yaml", workspace.clone())], None, Options::default());
        let mut files = empty_layers();
        files.push(("workspace.yaml", workspace));
        let with_empty = compiled(&files, Some("spec: {}\n"), Options::default());
        // The output, but metadata (which names the Template and Space), is the same.
        let (alone, with_empty) = (json(&alone), json(&with_empty));
        for part in ["/spec", "/notes", "/metadata/name"] {
            prop_assert_eq!(alone.pointer(part), with_empty.pointer(part), "{}", part);
        }
    }

    #[test]
    fn the_higher_layer_dominates_every_leaf_it_sets(template in scalars(), ws in scalars()) {
        let files = [
            ("template.yaml", document("Template", "base.team.cordium", &template.spec())),
            ("workspace.yaml", document("Workspace", "ws", &ws.spec())),
        ];
        let out = json(&compiled(&files, None, Options::default()));
        for (((pointer, _), low), high) in LEAVES.iter().zip(template.values()).zip(ws.values()) {
            let expected = high.or(low);
            prop_assert_eq!(out.pointer(pointer), expected.as_ref(), "{}", pointer);
        }
        let cpu = ws.cpu.or(template.cpu).unwrap_or(2000);
        let memory = ws.memory.or(template.memory).unwrap_or(6000);
        prop_assert_eq!(out.pointer("/spec/limit/cpu/millicores"), Some(&cpu.into()));
        prop_assert_eq!(out.pointer("/spec/limit/memory/megabytes"), Some(&memory.into()));
    }

    #[test]
    fn provenance_names_the_highest_layer_that_sets_each_leaf(
        template in scalars(),
        repo in scalars(),
        ws in scalars(),
        run_var in proptest::option::of("[a-z]{1,6}"),
    ) {
        let ws = Scalars { var_t: Some("t".into()), ..ws };
        let files = [
            ("template.yaml", document("Template", "base.team.cordium", &template.spec())),
            ("workspace.yaml", document("Workspace", "ws", &ws.spec())),
        ];
        let repo_text = if repo.spec().is_empty() { "spec: {}\n".to_owned() } else { format!("spec:\n{}", repo.spec()) };
        let options = Options {
            provenance: true,
            run_vars: run_var.iter().map(|v| ("V".to_owned(), v.clone())).collect(),
            ..Options::default()
        };
        let c = compiled(&files, Some(&repo_text), options);
        let leaf = |path: &str| c.provenance.iter().find(|l| l.path == path);
        let var_path = |name: &str| {
            c.provenance
                .iter()
                .find(|l| l.path.starts_with("spec.vars[") && l.path.ends_with("].name") && l.value == name)
                .map(|l| l.path.replace("].name", "].value"))
        };
        let layers = [(Layer::Workspace, ws.values()), (Layer::RepositoryFile, repo.values()), (Layer::Template, template.values())];
        for (i, (_, path)) in LEAVES.iter().enumerate() {
            let mut setters: Vec<Layer> = layers.iter().filter(|(_, values)| values[i].is_some()).map(|(layer, _)| *layer).collect();
            let mut path = (*path).to_owned();
            if path == "spec.vars[0].value" {
                if run_var.is_some() {
                    setters.insert(0, Layer::Run);
                }
                path = var_path("V").unwrap_or_else(|| "(no variable V)".to_owned());
            }
            let found = leaf(&path);
            prop_assert_eq!(found.map(|l| l.origin.layer), setters.first().copied(), "{}", path);
            if let Some(found) = found {
                // What it replaced: every lower layer that set it, nearest first.
                let replaced: Vec<Layer> = found.replaced.iter().map(|o| o.layer).collect();
                prop_assert_eq!(&replaced[..], &setters[1..], "{} replaced", path);
            }
        }
        let t = var_path("T").and_then(|p| leaf(&p));
        prop_assert_eq!(t.map(|l| l.origin.layer), Some(Layer::Workspace));
        prop_assert_eq!(t.map(|l| l.replaced.len()), Some(0), "T replaced nothing");
        for (path, pick) in [
            ("spec.limit.cpu.millicores", [ws.cpu, repo.cpu, template.cpu]),
            ("spec.limit.memory.megabytes", [ws.memory, repo.memory, template.memory]),
        ] {
            let setters: Vec<Layer> = [Layer::Workspace, Layer::RepositoryFile, Layer::Template]
                .into_iter()
                .zip(pick)
                .filter(|(_, v)| v.is_some())
                .map(|(layer, _)| layer)
                .collect();
            let expected = setters.first().copied().unwrap_or(Layer::BuiltIn);
            prop_assert_eq!(leaf(path).map(|l| l.origin.layer), Some(expected), "{}", path);
            // Limits say what they replaced exactly as other leaves do.
            let replaced: Option<Vec<Layer>> =
                leaf(path).map(|l| l.replaced.iter().map(|o| o.layer).collect());
            prop_assert_eq!(replaced, Some(setters.iter().skip(1).copied().collect()), "{} replaced", path);
        }
        // Every leaf of the output has exactly one provenance record.
        let mut paths: Vec<&str> = c.provenance.iter().map(|l| l.path.as_str()).collect();
        let count = paths.len();
        paths.sort_unstable();
        paths.dedup();
        prop_assert_eq!(paths.len(), count);
    }
}

// ---------------------------------------------------------------------------------------------
// Law: capping never raises a value and is idempotent

fn source(label: &str) -> LimitSource {
    LimitSource {
        label: label.to_owned(),
        origin: Origin {
            layer: Layer::Cluster,
            document: None,
            location: None,
        },
    }
}

/// An optional cap: 0 is "not set".
fn cap() -> impl Strategy<Value = u32> {
    prop_oneof![1 => Just(0u32), 3 => 1u32..=64_000]
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn apply_caps_never_raises_and_is_idempotent(requested in 0u32..=100_000, caps in proptest::collection::vec(cap(), 0..4)) {
        let sources: Vec<LimitSource> = (0..caps.len()).map(|i| source(&format!("cap {i}"))).collect();
        let pairs: Vec<(u32, &LimitSource)> = caps.iter().copied().zip(sources.iter()).collect();
        let (value, applied) = apply_caps(requested, &pairs);
        prop_assert!(value <= requested);
        let lowest = caps.iter().copied().filter(|c| *c != 0).min().map_or(requested, |c| c.min(requested));
        prop_assert_eq!(value, lowest);
        for c in caps.iter().filter(|c| **c != 0) {
            prop_assert!(value <= *c);
        }
        // Each applied cap lowered the value, in order.
        let mut before = requested;
        for a in &applied {
            prop_assert_eq!(a.requested, before);
            prop_assert!(a.cap < a.requested);
            before = a.cap;
        }
        prop_assert_eq!(before, value);
        // Idempotent: capping the result again changes nothing and reports nothing.
        let (again, applied_again) = apply_caps(value, &pairs);
        prop_assert_eq!(again, value);
        prop_assert!(applied_again.is_empty());
    }
}

/// `key:` at `indent` spaces, with the three dimensions below it.
fn limit_block(indent: usize, key: &str, dims: [u32; 3]) -> String {
    let [cpu, memory, storage] = dims;
    let (at, below) = (" ".repeat(indent), " ".repeat(indent + 2));
    format!(
        "{at}{key}:\n{below}cpu: {{millicores: {cpu}}}\n{below}memory: {{megabytes: {memory}}}\n{below}storage: {{megabytes: {storage}}}\n"
    )
}

fn limits_of(c: &Compiled) -> [u32; 3] {
    c.limits.clone().map(|d| d.value)
}

proptest! {
    #![proptest_config(config(64))]

    #[test]
    fn compile_caps_never_raise_and_are_idempotent(
        request in [0u32..=100_000, 0u32..=100_000, 0u32..=100_000],
        space_max in [cap(), cap(), cap()],
        cluster_max in [cap(), cap(), cap()],
    ) {
        let space = document("Space", "team.cordium", &format!("  limit:\n{}", limit_block(4, "maxLimit", space_max)));
        let cluster = document(
            "ClusterConfig",
            "cluster",
            &format!("  workspace:\n    limit:\n{}", limit_block(6, "maxLimit", cluster_max)),
        );
        let files = |ws: [u32; 3]| {
            vec![
                ("space.yaml", space.clone()),
                ("cluster.yaml", cluster.clone()),
                ("workspace.yaml", document("Workspace", "ws", &limit_block(2, "limit", ws))),
            ]
        };
        let first = compiled(&files(request), None, Options::default());
        let values = limits_of(&first);
        for (i, value) in values.iter().enumerate() {
            let asked = if request[i] == 0 { [2000, 6000, 20000][i] } else { request[i] };
            prop_assert!(*value <= asked, "dimension {} raised: {} > {}", i, value, asked);
            for cap in [space_max[i], cluster_max[i]] {
                prop_assert!(cap == 0 || *value <= cap);
            }
            let lowest = [space_max[i], cluster_max[i]].into_iter().filter(|c| *c != 0).fold(asked, u32::min);
            prop_assert_eq!(*value, lowest);
        }
        // A note for every cap applied, none otherwise.
        let caps_applied: usize = first.limits.iter().map(|d| d.caps.len()).sum();
        prop_assert_eq!(first.effective.notes.len(), caps_applied);
        // Requesting the capped values again changes nothing and caps nothing.
        let again = compiled(&files(values), None, Options::default());
        prop_assert_eq!(limits_of(&again), values);
        prop_assert!(again.effective.notes.is_empty(), "{:?}", again.effective.notes);
    }
}

// ---------------------------------------------------------------------------------------------
// Law: compile is deterministic, whatever the order of the documents

fn example_files() -> Vec<(String, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/examples");
    [
        "cluster.yaml",
        "space.yaml",
        "template.yaml",
        "user.yaml",
        "workspace.yaml",
    ]
    .into_iter()
    .map(|name| {
        let path = dir.join(name);
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        (format!("fixtures/examples/{name}"), text)
    })
    .collect()
}

/// Compiles the example layers, adding the files to the source map in `file_order` and
/// passing the documents to `Inputs::from_documents` in `doc_order`.
fn compile_examples(file_order: &[usize], doc_order: &[usize]) -> String {
    let files = example_files();
    let mut sources = SourceMap::new();
    let mut documents = vec![None; files.len()];
    for &i in file_order {
        let (name, text) = &files[i];
        let id = sources.add(name.as_str(), text.as_str());
        let loaded = load(text, id);
        assert!(!loaded.has_errors(), "{name}: {:?}", loaded.diagnostics);
        documents[i] = loaded.documents.into_iter().next();
    }
    let ordered: Vec<_> = doc_order
        .iter()
        .map(|&i| documents[i].clone().expect("a document"))
        .collect();
    let options = Options {
        run_vars: vec![("BRANCH".into(), "release/2026-11".into())],
        provenance: true,
        ..Options::default()
    };
    let inputs = Inputs::from_documents(&sources, ordered, None, options).expect("valid inputs");
    let c = compile(inputs).expect("the examples compile");
    format!(
        "{}{:?}",
        c.effective.to_yaml(),
        c.provenance
            .iter()
            .map(|l| (&l.path, &l.value, l.origin.layer))
            .collect::<Vec<_>>()
    )
}

proptest! {
    #![proptest_config(config(64))]

    #[test]
    fn compile_is_deterministic_whatever_the_document_order(
        file_order in Just((0..5).collect::<Vec<usize>>()).prop_shuffle(),
        doc_order in Just((0..5).collect::<Vec<usize>>()).prop_shuffle(),
    ) {
        let reference = compile_examples(&[0, 1, 2, 3, 4], &[0, 1, 2, 3, 4]);
        prop_assert_eq!(compile_examples(&file_order, &doc_order), reference);
    }
}

// ---------------------------------------------------------------------------------------------
// The seed example

#[test]
fn the_seed_example_compiles_to_its_golden_case() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let seed = std::fs::read_to_string(root.join("fixtures/seed/workspace.yaml"))
        .expect("the seed example");
    let expected =
        std::fs::read_to_string(root.join("fixtures/compile/01-seed-example/expected.yaml"))
            .expect("the golden case");
    let c = compiled(&[("workspace.yaml", seed)], None, Options::default());
    assert_eq!(c.effective.to_yaml(), expected);
}

// ---------------------------------------------------------------------------------------------
// Substitution is bounded

/// A Workspace whose every env value is `refs` references to a variable of `len` bytes.
fn amplifier(refs: usize, len: usize) -> String {
    let value = "${{ vars.A }}".repeat(refs);
    let env: String = (0..128)
        .map(|i| format!("    - key: E{i}\n      value: '{value}'\n"))
        .collect();
    document(
        "Workspace",
        "amp",
        &format!(
            "  vars:\n    - name: A\n      value: '{}'\n  runtime:\n    envVars:\n{env}",
            "x".repeat(len)
        ),
    )
}

#[test]
fn a_substituted_value_is_bounded_by_its_fields_limit_before_it_is_built() {
    // 73 references (1,022 bytes as written) to a 5,000-byte variable ask for 365,000 bytes per
    // value; each is refused, naming its field, and no message quotes the value.
    let Err(diagnostics) = compile_texts(
        &[("ws.yaml", amplifier(73, 5000))],
        None,
        Options::default(),
    ) else {
        panic!("an amplified value must not compile");
    };
    let too_long: Vec<_> = diagnostics
        .0
        .iter()
        .filter(|d| d.code == "vars::too-long")
        .collect();
    assert_eq!(too_long.len(), 128, "{diagnostics:?}");
    assert_eq!(too_long[5].path, "spec.runtime.envVars[5].value");
    assert!(
        too_long[5].message.contains("365000 bytes")
            && too_long[5].message.contains("at most 1024"),
        "{}",
        too_long[5].message
    );
    assert!(too_long.iter().all(|d| d.message.len() < 200));

    // At the limit exactly, it compiles: 1,024 bytes from 8 references to 128 bytes.
    let c = compiled(&[("ws.yaml", amplifier(8, 128))], None, Options::default());
    let value = &json(&c)["spec"]["runtime"]["envVars"][0]["value"];
    assert_eq!(value.as_str().map(str::len), Some(1024));
}

#[test]
fn a_variable_holds_at_most_what_a_field_can() {
    let text = amplifier(1, 5001);
    let mut sources = SourceMap::new();
    let id = sources.add("ws.yaml", text.as_str());
    let loaded = load(&text, id);
    assert!(
        loaded
            .diagnostics
            .iter()
            .any(|d| d.path == "spec.vars[0].value" && d.message.contains("at most 5000")),
        "{:?}",
        loaded.diagnostics
    );
}
