//! The YAML writer (`cordium_merge::emit`) against serde-saphyr, the writer `to_yaml` used
//! before, with the options it used (`prefer_block_scalars = false`): byte for byte equal on
//! generated documents of every shape the writer accepts, on strings made to hit every quoting
//! rule, on generated EffectiveWorkspaces, and on compiled inputs of every bench size.
#![allow(
    clippy::disallowed_methods,
    clippy::disallowed_types,
    reason = "tests read fixtures; the purity rule (clippy.toml) is for the library"
)]

use cordium_merge::effective::{
    AdditionalRepository, Application, Capabilities, ClonedRepository, EffectiveRuntime, EnvSource,
    EnvVar, GitImage, Image, Limits, Login, RegistryImage, Repository, SecretRef, Task, TaskEnvVar,
    Var,
};
use cordium_merge::emit::{EmitError, to_yaml};
use cordium_merge::{EffectiveMetadata, EffectiveSpec, EffectiveWorkspace};
use cordium_merge::{Inputs, Options, compile};
use cordium_spec::shapes::Capability;
use cordium_spec::{
    CloneOptions, DockerfileImage, Filesystem, Located, OnFailure, SourceMap, TaskType, load,
};
use proptest::prelude::*;
use serde::ser::{SerializeMap, SerializeSeq, SerializeStruct, Serializer};

#[path = "../../spec/benches/layers/mod.rs"]
mod layers;

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// What serde-saphyr writes, as `to_yaml` called it.
fn oracle<T: serde::Serialize>(value: &T) -> String {
    let mut options = serde_saphyr::SerializerOptions::default();
    options.prefer_block_scalars = false;
    serde_saphyr::to_string_with_options(value, options).expect("serde-saphyr writes it")
}

// ---------------------------------------------------------------------------------------------
// Strings that hit the quoting rules

/// Pieces that make a string ambiguous, an indicator, a comment, a marker or an escape.
const WORDS: &[&str] = &[
    "true",
    "False",
    "yes",
    "N",
    "on",
    "OFF",
    "null",
    "~",
    "nan",
    ".inf",
    "-.INF",
    "0x1F",
    "0x-1",
    "0x+1F",
    "0o17",
    "0o-7",
    "0b101",
    "1_000",
    "+12",
    "-3.5e+2",
    "1e3",
    "1:20",
    "190:20:30.15",
    "2026-12-05",
    "2026-12-05T01:00:00Z",
    "2026-1-5 1:2:3 +01:00",
    "<<",
    "=",
    "---",
    "...",
    "- ",
    "? ",
    ": ",
    " #",
    "${{ vars.X }}",
    "http://x:8080/a#b",
    "a,b",
    "[x]",
    "{y}",
    "'",
    "\"",
    "\\",
    "0",
    ".",
    "#",
    "-",
    "_",
    "12.",
    "._5",
];

/// Characters around those pieces: indicators, white space, controls, separators, non-ASCII.
const CHARS: &[char] = &[
    'a',
    'Z',
    '1',
    '0',
    ' ',
    ' ',
    '\t',
    '\n',
    '\r',
    ':',
    '#',
    '-',
    '?',
    ',',
    '[',
    ']',
    '{',
    '}',
    '&',
    '*',
    '!',
    '|',
    '>',
    '\'',
    '"',
    '%',
    '@',
    '`',
    '.',
    '_',
    '+',
    'e',
    'x',
    '\\',
    '\0',
    '\u{7}',
    '\u{1b}',
    '\u{7f}',
    '\u{85}',
    '\u{9f}',
    '\u{a0}',
    '\u{2028}',
    '\u{2029}',
    '\u{3000}',
    '\u{feff}',
    '\u{fffe}',
    '\u{ffff}',
    'é',
    '字',
    '\u{1F600}',
    '\u{e000}',
];

fn text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        prop::sample::select(WORDS).prop_map(str::to_owned),
        prop::sample::select(CHARS).prop_map(String::from),
        "[a-zA-Z0-9/._-]{1,12}",
    ];
    prop::collection::vec(piece, 0..5).prop_map(|pieces| pieces.concat())
}

// ---------------------------------------------------------------------------------------------
// Documents of every accepted shape

/// Keys of generated structs (struct keys are `&'static str`), some needing quotes.
const KEYS: &[&str] = &[
    "a",
    "name",
    "envVars",
    "key",
    "on",
    "true",
    "1",
    "x y",
    "with: colon",
    "-",
    "#c",
    "",
    "dotted.key",
    "ends:",
    "\u{85}",
];

/// A serde value of any shape the writer accepts.
#[derive(Debug, Clone)]
enum Shape {
    Str(String),
    Bool(bool),
    Int(i64),
    Uint(u32),
    Null,
    Seq(Vec<Shape>),
    Struct(Vec<(&'static str, Shape)>),
    Map(Vec<(String, Shape)>),
    Variant(&'static str, Box<Shape>),
    Unit(&'static str),
}

impl serde::Serialize for Shape {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Str(s) => serializer.serialize_str(s),
            Self::Bool(b) => serializer.serialize_bool(*b),
            Self::Int(i) => serializer.serialize_i64(*i),
            Self::Uint(u) => serializer.serialize_u32(*u),
            Self::Null => serializer.serialize_none(),
            Self::Seq(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Self::Struct(fields) => {
                let mut s = serializer.serialize_struct("Shape", fields.len())?;
                for (key, value) in fields {
                    s.serialize_field(key, value)?;
                }
                s.end()
            }
            Self::Map(entries) => {
                let mut map = serializer.serialize_map(Some(entries.len()))?;
                for (key, value) in entries {
                    map.serialize_entry(key, value)?;
                }
                map.end()
            }
            Self::Variant(name, value) => {
                serializer.serialize_newtype_variant("Shape", 0, name, &**value)
            }
            Self::Unit(name) => serializer.serialize_unit_variant("Shape", 0, name),
        }
    }
}

fn shape() -> impl Strategy<Value = Shape> {
    let leaf = prop_oneof![
        text().prop_map(Shape::Str),
        any::<bool>().prop_map(Shape::Bool),
        any::<i64>().prop_map(Shape::Int),
        any::<u32>().prop_map(Shape::Uint),
        Just(Shape::Null),
        prop::sample::select(&["ON_CREATE", "DENY", "registry"][..]).prop_map(Shape::Unit),
    ];
    leaf.prop_recursive(5, 64, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Shape::Seq),
            prop::collection::vec((prop::sample::select(KEYS), inner.clone()), 0..5)
                .prop_map(Shape::Struct),
            prop::collection::vec((text(), inner.clone()), 0..4).prop_map(Shape::Map),
            (
                prop::sample::select(&["registry", "http", "git", "on"][..]),
                inner
            )
                .prop_map(|(name, value)| Shape::Variant(name, Box::new(value))),
        ]
    })
}

/// A document root: anything but a variant (which the writer refuses at the top).
fn root() -> impl Strategy<Value = Shape> {
    shape().prop_filter("a variant at the top", |s| !matches!(s, Shape::Variant(..)))
}

proptest! {
    #![proptest_config(config(2048))]

    #[test]
    fn documents_of_every_shape_are_written_as_serde_saphyr_writes_them(doc in root()) {
        prop_assert_eq!(to_yaml(&doc).expect("an accepted shape"), oracle(&doc));
    }

    #[test]
    fn strings_are_quoted_as_serde_saphyr_quotes_them(s in text(), key in text()) {
        let doc = Shape::Struct(vec![
            ("value", Shape::Str(s.clone())),
            ("items", Shape::Seq(vec![Shape::Str(s.clone())])),
            ("map", Shape::Map(vec![(key, Shape::Str(s.clone()))])),
        ]);
        prop_assert_eq!(to_yaml(&doc).expect("an accepted shape"), oracle(&doc));
        prop_assert_eq!(to_yaml(&s).expect("a string"), oracle(&s));
    }

    /// What the writer writes, our loader reads back as written: a string stays that string
    /// (quoted or not), so `cordium compile -o yaml` output fed to Cordium again means the same.
    #[test]
    fn strings_load_back_as_the_same_strings(s in text()) {
        let doc = Shape::Struct(vec![("value", Shape::Str(s.clone()))]);
        let yaml = to_yaml(&doc).expect("an accepted shape");
        let mut roots = cordium_spec::yaml::parse_documents(&yaml, cordium_spec::SourceId(0))
            .map_err(|d| TestCaseError::fail(format!("{yaml:?} does not load: {}", d.message)))?;
        let value = roots.pop().and_then(|mut root| root.take("value"));
        prop_assert_eq!(value.map(|v| v.kind), Some(cordium_spec::NodeKind::Str(s)), "{:?}", yaml);
    }
}

#[test]
fn shapes_serde_saphyr_writes_otherwise_are_refused() {
    let variant = Shape::Variant("registry", Box::new(Shape::Seq(vec![Shape::Null])));
    assert_eq!(
        to_yaml(&variant),
        Err(EmitError::Unsupported("a variant at the top"))
    );
    assert_eq!(
        to_yaml(&vec![1.5f64]),
        Err(EmitError::Unsupported("a float"))
    );
    assert_eq!(to_yaml(&[(1, 2)]), Err(EmitError::Unsupported("a tuple")));
}

// ---------------------------------------------------------------------------------------------
// Generated EffectiveWorkspaces

fn located<T>(value: T) -> Option<Located<T>> {
    Some(Located::new(value, Default::default()))
}

fn login() -> impl Strategy<Value = Login> {
    (text(), text(), any::<bool>()).prop_map(|(username, name, user)| Login {
        username,
        password: if user {
            SecretRef::UserSecret(name)
        } else {
            SecretRef::Secret(name)
        },
    })
}

fn clone_options() -> impl Strategy<Value = Option<CloneOptions>> {
    prop::option::of(
        (any::<bool>(), 0u32..100, any::<bool>()).prop_map(|(single, depth, full)| CloneOptions {
            depth: located(depth),
            single_branch: located(single),
            disable_lazy_unshallow: if full { located(true) } else { None },
            ..CloneOptions::default()
        }),
    )
}

fn image() -> impl Strategy<Value = Option<Image>> {
    prop::option::of(prop_oneof![
        (text(), prop::option::of(login())).prop_map(|(url, authentication)| Image::Registry(
            RegistryImage {
                url,
                authentication
            }
        )),
        text().prop_map(|t| Image::Dockerfile(DockerfileImage::Inline(t))),
        (text(), prop::option::of(text()), prop::option::of(text())).prop_map(
            |(url, checkout, context)| Image::Git(GitImage {
                url,
                checkout,
                dockerfile: None,
                context
            })
        ),
    ])
}

fn env_var() -> impl Strategy<Value = EnvVar> {
    (text(), text(), 0..3u8).prop_map(|(key, value, source)| EnvVar {
        key,
        source: match source {
            0 => EnvSource::Value(value),
            1 => EnvSource::FromSecret(value),
            _ => EnvSource::FromUserSecret(value),
        },
    })
}

fn task() -> impl Strategy<Value = Task> {
    (
        prop::option::of(text()),
        text(),
        prop::option::of(prop::collection::vec(
            (text(), text()).prop_map(|(key, value)| TaskEnvVar { key, value }),
            0..3,
        )),
        prop::option::of(text()),
        prop::option::of(any::<bool>()),
        any::<bool>(),
    )
        .prop_map(
            |(name, run, env_vars, working_dir, is_background, abort)| Task {
                name,
                run,
                task_type: TaskType::PostStart,
                env_vars,
                working_dir,
                is_background,
                on_failure: abort.then_some(OnFailure::Abort),
                run_as_root: None,
            },
        )
}

fn runtime() -> impl Strategy<Value = EffectiveRuntime> {
    (
        prop::collection::vec(env_var(), 0..4),
        prop::collection::vec(task(), 0..3),
        prop::option::of(text()),
        (
            prop::option::of(any::<bool>()),
            prop::option::of(any::<bool>()),
        ),
        any::<bool>(),
    )
        .prop_map(
            |(env_vars, tasks, cmd, (disable_init, read_only), caps)| EffectiveRuntime {
                env_vars,
                tasks,
                cmd,
                disable_init,
                filesystem: read_only.map(|r| Filesystem {
                    read_only: located(r),
                }),
                capabilities: caps.then(|| Capabilities {
                    add: Some(vec![Capability::new("NET_ADMIN").expect("a capability")]),
                    drop: Some(Vec::new()),
                }),
                ..EffectiveRuntime::default()
            },
        )
}

fn spec() -> impl Strategy<Value = EffectiveSpec> {
    (
        image(),
        prop::option::of((
            prop::option::of(text()),
            clone_options(),
            prop::option::of(login()),
        )),
        prop::option::of(prop::collection::vec(
            (
                text(),
                prop::option::of(text()),
                text(),
                clone_options(),
                prop::option::of(login()),
            ),
            0..3,
        )),
        prop::option::of(prop::collection::vec(
            (
                text(),
                prop::option::of(text()),
                1u16..,
                prop::option::of(any::<bool>()),
            ),
            0..3,
        )),
        runtime(),
        prop::collection::vec((text(), text()), 0..4),
        prop::option::of(text()),
    )
        .prop_map(
            |(image, repository, additional, applications, runtime, vars, git)| EffectiveSpec {
                image,
                repository: repository.map(|(url, clone_options, authentication)| Repository {
                    url,
                    clone_options,
                    authentication,
                }),
                additional_repositories: additional.map(|repos| {
                    repos
                        .into_iter()
                        .map(|(name, clone_path, url, clone_options, authentication)| {
                            AdditionalRepository {
                                name,
                                clone_path,
                                repository: ClonedRepository {
                                    url,
                                    clone_options,
                                    authentication,
                                },
                            }
                        })
                        .collect()
                }),
                applications: applications.map(|apps| {
                    apps.into_iter()
                        .map(|(name, display_name, port, is_default)| Application {
                            name,
                            display_name,
                            port,
                            is_default,
                        })
                        .collect()
                }),
                is_ephemeral: git.is_none(),
                limit: Limits {
                    cpu_millicores: 4000,
                    memory_megabytes: 8192,
                    storage_megabytes: 20480,
                },
                runtime,
                dotfiles: None,
                git_provider: git,
                vars: vars
                    .into_iter()
                    .map(|(name, value)| Var { name, value })
                    .collect(),
            },
        )
}

fn workspace() -> impl Strategy<Value = EffectiveWorkspace> {
    (
        text(),
        prop::option::of(text()),
        spec(),
        prop::collection::vec(text(), 0..3),
    )
        .prop_map(|(name, space, spec, notes)| EffectiveWorkspace {
            api_version: "cordium/v1".into(),
            kind: "EffectiveWorkspace".into(),
            metadata: EffectiveMetadata {
                name,
                space,
                template: None,
            },
            spec,
            notes,
        })
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn effective_workspaces_are_written_as_serde_saphyr_writes_them(ws in workspace()) {
        prop_assert_eq!(ws.to_yaml(), oracle(&ws));
    }
}

// ---------------------------------------------------------------------------------------------
// Compiled inputs

#[test]
fn compiled_examples_and_bench_inputs_are_written_as_serde_saphyr_writes_them() {
    let sets = [
        layers::examples(),
        layers::generate(32),
        layers::generate(120),
        layers::generate(300),
    ];
    for files in sets {
        let mut sources = SourceMap::new();
        let mut documents = Vec::new();
        for (name, text) in &files {
            let id = sources.add(*name, text.as_str());
            let loaded = load(text, id);
            assert!(!loaded.has_errors(), "{name}: {:?}", loaded.diagnostics);
            documents.extend(loaded.documents);
        }
        let inputs =
            Inputs::from_documents(&sources, documents, None, Options::default()).expect("inputs");
        let compiled = compile(inputs).expect("the set compiles");
        let yaml = compiled.effective.to_yaml();
        assert!(!yaml.is_empty());
        assert_eq!(yaml, oracle(&compiled.effective));
    }
}
