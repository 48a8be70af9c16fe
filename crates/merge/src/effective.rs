//! The result: the EffectiveWorkspace document, as resolved types.
//!
//! Layers are written with every field optional; once the compiler has merged, capped,
//! substituted and checked them, a value is plain wherever the compiler guarantees one (a
//! task's `run` and `type`, an environment variable's one source, the three limits, a login's
//! password Secret), so a consumer (the provisioner) never handles a state that cannot
//! occur. A field stays an `Option` only where absence means something (the image's default,
//! an unset flag that prints nothing). Parts nobody interprets after compiling (network
//! policy, devcontainers, timeouts, volume mounts, capabilities, clone options) keep the
//! spec's wire types. Serialization is the wire shape, field for field, in declaration order.
//! [`crate::resolve`] builds it from the merged tree.

use cordium_spec::shapes::Capability;
use cordium_spec::{
    CloneOptions, Devcontainers, DockerfileImage, Filesystem, Network, Octelium, OnFailure,
    RepositoryImage, TaskType, Timeout, VolumeMount,
};
use serde::ser::{SerializeStruct, Serializer};

/// Where an environment variable's value comes from: exactly one source.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum EnvSource {
    /// A literal value, substituted (`value`).
    Value(String),
    /// A Secret of the Space, by name (`fromSecret`).
    FromSecret(String),
    /// A UserSecret of the user, by name (`fromUserSecret`).
    FromUserSecret(String),
}

/// An environment variable of the effective spec: from any layer, so any source.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EnvVar {
    /// The variable name.
    pub key: String,
    /// Its one source.
    pub source: EnvSource,
}

impl serde::Serialize for EnvVar {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let (field, value) = match &self.source {
            EnvSource::Value(v) => ("value", v),
            EnvSource::FromSecret(s) => ("fromSecret", s),
            EnvSource::FromUserSecret(s) => ("fromUserSecret", s),
        };
        // A struct of two fields, the second named by the source (the same output as a map,
        // with keys writers need not copy).
        let mut map = serializer.serialize_struct("EnvVar", 2)?;
        map.serialize_field("key", &self.key)?;
        map.serialize_field(field, value)?;
        map.end()
    }
}

/// A secret a password comes from, by name (the value never enters the compiler).
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub enum SecretRef {
    /// A Secret of the Space.
    #[serde(rename = "fromSecret")]
    Secret(String),
    /// A UserSecret of the user.
    #[serde(rename = "fromUserSecret")]
    UserSecret(String),
}

/// A user name and the secret holding its password (registries, git servers, dotfiles).
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Login {
    /// The user name.
    pub username: String,
    /// Where the password comes from.
    pub password: SecretRef,
}

/// Writes a login as the one-of `{http: {...}}` that repositories and dotfiles use.
fn http_login<S: Serializer>(login: &Option<Login>, serializer: S) -> Result<S::Ok, S::Error> {
    let mut map = serializer.serialize_struct("RepositoryAuth", 1)?;
    map.serialize_field("http", login)?;
    map.end()
}

/// An image pulled from a registry.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct RegistryImage {
    /// The image reference.
    pub url: String,
    /// The registry login, when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authentication: Option<Login>,
}

/// An image built from a separate git repository.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct GitImage {
    /// The repository URL.
    pub url: String,
    /// A commit, tag or branch to check out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checkout: Option<String>,
    /// The Dockerfile's path.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dockerfile: Option<String>,
    /// The build context.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
}

/// How the container's image is obtained (one choice).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub enum Image {
    /// Pull from a registry.
    #[serde(rename = "registry")]
    Registry(RegistryImage),
    /// Build a Dockerfile, inline or at a URL.
    #[serde(rename = "dockerfile")]
    Dockerfile(DockerfileImage),
    /// Build from a separate git repository.
    #[serde(rename = "git")]
    Git(GitImage),
    /// Build from the workspace's primary repository.
    #[serde(rename = "repository")]
    Repository(RepositoryImage),
}

/// The primary repository. Its URL may be absent: a layer may set only clone options, and
/// then nothing is cloned.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Repository {
    /// The https URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Branch, depth and history options.
    #[serde(rename = "cloneOptions", skip_serializing_if = "Option::is_none")]
    pub clone_options: Option<CloneOptions>,
    /// HTTP credentials, when set.
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "http_login")]
    pub authentication: Option<Login>,
}

/// A repository that is always cloned: its URL is always set.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ClonedRepository {
    /// The https URL.
    pub url: String,
    /// Branch, depth and history options.
    #[serde(rename = "cloneOptions", skip_serializing_if = "Option::is_none")]
    pub clone_options: Option<CloneOptions>,
    /// HTTP credentials, when set.
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "http_login")]
    pub authentication: Option<Login>,
}

/// A secondary repository.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AdditionalRepository {
    /// Its unique name.
    pub name: String,
    /// Where to clone it; `None`: a folder named after it.
    #[serde(rename = "clonePath", skip_serializing_if = "Option::is_none")]
    pub clone_path: Option<String>,
    /// What to clone.
    pub repository: ClonedRepository,
}

/// An exposed port.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Application {
    /// Its unique name.
    pub name: String,
    /// A name for people.
    #[serde(rename = "displayName", skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// The container port (1..65535).
    pub port: u16,
    /// Whether it is the default application (`None`: not written).
    #[serde(rename = "isDefault", skip_serializing_if = "Option::is_none")]
    pub is_default: Option<bool>,
}

/// The compute a workspace may use: all three dimensions, resolved and capped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Limits {
    /// CPU in millicores.
    pub cpu_millicores: u32,
    /// Memory in megabytes.
    pub memory_megabytes: u32,
    /// Storage in megabytes.
    pub storage_megabytes: u32,
}

impl serde::Serialize for Limits {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(serde::Serialize)]
        struct Cpu {
            millicores: u32,
        }
        #[derive(serde::Serialize)]
        struct Size {
            megabytes: u32,
        }
        let mut map = serializer.serialize_struct("Limit", 3)?;
        map.serialize_field(
            "cpu",
            &Cpu {
                millicores: self.cpu_millicores,
            },
        )?;
        map.serialize_field(
            "memory",
            &Size {
                megabytes: self.memory_megabytes,
            },
        )?;
        map.serialize_field(
            "storage",
            &Size {
                megabytes: self.storage_megabytes,
            },
        )?;
        map.end()
    }
}

/// A variable of a task's own environment (always a literal).
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct TaskEnvVar {
    /// The variable name.
    pub key: String,
    /// Its value.
    pub value: String,
}

/// A task: a shell command run in one phase.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Task {
    /// Its name; `None`: named by its place when it runs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The shell command.
    pub run: String,
    /// Its phase.
    #[serde(rename = "type")]
    pub task_type: TaskType,
    /// Its own variables.
    #[serde(rename = "envVars", skip_serializing_if = "Option::is_none")]
    pub env_vars: Option<Vec<TaskEnvVar>>,
    /// The working directory.
    #[serde(rename = "workingDir", skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    /// Runs in the background.
    #[serde(rename = "isBackground", skip_serializing_if = "Option::is_none")]
    pub is_background: Option<bool>,
    /// What a failure does.
    #[serde(rename = "onFailure", skip_serializing_if = "Option::is_none")]
    pub on_failure: Option<OnFailure>,
    /// Runs as root.
    #[serde(rename = "runAsRoot", skip_serializing_if = "Option::is_none")]
    pub run_as_root: Option<bool>,
}

/// Linux capabilities, the union of every layer's.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Capabilities {
    /// To add.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub add: Option<Vec<Capability>>,
    /// To drop.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drop: Option<Vec<Capability>>,
}

/// Container behaviour after merging every layer.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct EffectiveRuntime {
    /// Environment variables: in order of first appearance, with the most specific value.
    #[serde(rename = "envVars")]
    pub env_vars: Vec<EnvVar>,
    /// Tasks: Template, repository file, Workspace, Space, UserConfig.
    pub tasks: Vec<Task>,
    /// The command.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cmd: Option<String>,
    /// The entrypoint.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<String>,
    /// No init process.
    #[serde(rename = "disableInit", skip_serializing_if = "Option::is_none")]
    pub disable_init: Option<bool>,
    /// Stop when foreground tasks are done.
    #[serde(rename = "autoStop", skip_serializing_if = "Option::is_none")]
    pub auto_stop: Option<bool>,
    /// Root filesystem options.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filesystem: Option<Filesystem>,
    /// Capabilities: the union of every layer's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capabilities: Option<Capabilities>,
    /// Network policy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network: Option<Network>,
    /// Inactivity timeout.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Timeout>,
    /// Devcontainer features.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub devcontainers: Option<Devcontainers>,
    /// Volume mounts.
    #[serde(rename = "volumeMounts", skip_serializing_if = "Option::is_none")]
    pub volume_mounts: Option<Vec<VolumeMount>>,
    /// `octelium connect` flags.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub octelium: Option<Octelium>,
}

impl EffectiveRuntime {
    /// The wire names of the fields, in output order.
    pub const FIELDS: &'static [&'static str] = crate::resolve::MergedRuntime::FIELDS;
}

/// The user's dotfiles repository (from the UserConfig).
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Dotfiles {
    /// The repository URL.
    pub url: String,
    /// The branch; `None`: the default branch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    /// HTTP credentials (a UserSecret), when set.
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "http_login")]
    pub authentication: Option<Login>,
}

/// A variable, with the value of the most specific layer (or the run).
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Var {
    /// Its name.
    pub name: String,
    /// Its value.
    pub value: String,
}

/// The merged, capped and substituted spec a workspace runs with.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct EffectiveSpec {
    /// The image (the Cluster default when no layer sets one; `None`: neither did).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<Image>,
    /// The primary repository.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repository: Option<Repository>,
    /// Secondary repositories (`None`: no layer wrote the list).
    #[serde(
        rename = "additionalRepositories",
        skip_serializing_if = "Option::is_none"
    )]
    pub additional_repositories: Option<Vec<AdditionalRepository>>,
    /// Exposed ports (`None`: no layer wrote the list).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub applications: Option<Vec<Application>>,
    /// Whether storage is deleted on stop.
    #[serde(rename = "isEphemeral")]
    pub is_ephemeral: bool,
    /// Compute.
    pub limit: Limits,
    /// Container behaviour.
    pub runtime: EffectiveRuntime,
    /// Dotfiles, from the UserConfig.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dotfiles: Option<Dotfiles>,
    /// The GitProvider, from the Template.
    #[serde(rename = "gitProvider", skip_serializing_if = "Option::is_none")]
    pub git_provider: Option<String>,
    /// The effective variables.
    pub vars: Vec<Var>,
}

impl EffectiveSpec {
    /// The wire names of the fields, in output order.
    pub const FIELDS: &'static [&'static str] = crate::resolve::MergedSpec::FIELDS;
}

/// `metadata` of an EffectiveWorkspace.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct EffectiveMetadata {
    /// The Workspace's name, or empty.
    pub name: String,
    /// The Space's name, when a Space was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub space: Option<String>,
    /// The Template's name, when a Template was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
}

/// The compiled document.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct EffectiveWorkspace {
    /// `cordium/v1`.
    #[serde(rename = "apiVersion")]
    pub api_version: String,
    /// `EffectiveWorkspace`.
    pub kind: String,
    /// Names.
    pub metadata: EffectiveMetadata,
    /// The spec.
    pub spec: EffectiveSpec,
    /// Caps applied and lenient-mode warnings, in order; empty when none.
    pub notes: Vec<String>,
}

impl EffectiveWorkspace {
    /// As YAML, deterministic byte for byte. Every string stays on one line, however long
    /// (multi-line strings are double-quoted with `\n`), so output lines can be searched and
    /// diffed line by line.
    ///
    /// Written by [`crate::emit`], byte for byte what serde-saphyr writes with
    /// `prefer_block_scalars = false` (`tests/emit.rs`).
    pub fn to_yaml(&self) -> String {
        crate::emit::to_yaml(self).unwrap_or_default()
    }

    /// As pretty JSON with a trailing newline.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self)
            .map(|s| s + "\n")
            .unwrap_or_default()
    }
}
