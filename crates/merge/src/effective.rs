//! The result: the EffectiveWorkspace document.

use cordium_spec::resources::*;

cordium_spec::wire_struct! {
    /// An environment variable of the effective spec: from any layer, so any source.
    pub struct EffectiveEnvVar {
        /// The variable name.
        key: String = "key",
        /// A literal value, substituted.
        value: String = "value",
        /// A Secret of the Space, by name.
        from_secret: String = "fromSecret",
        /// A UserSecret of the user, by name.
        from_user_secret: String = "fromUserSecret",
    }
}

cordium_spec::wire_struct! {
    /// Container behaviour after merging every layer.
    pub struct EffectiveRuntime {
        /// Environment variables: in order of first appearance, with the most specific value.
        env_vars: Vec<EffectiveEnvVar> = "envVars",
        /// Tasks: Template, repository file, Workspace, Space, UserConfig.
        tasks: Vec<Task> = "tasks",
        /// The command.
        cmd: String = "cmd",
        /// The entrypoint.
        entrypoint: String = "entrypoint",
        /// No init process.
        disable_init: bool = "disableInit",
        /// Stop when foreground tasks are done.
        auto_stop: bool = "autoStop",
        /// Root filesystem options.
        filesystem: Filesystem = "filesystem",
        /// Capabilities: the union of every layer's.
        capabilities: Capabilities = "capabilities",
        /// Network policy.
        network: Network = "network",
        /// Inactivity timeout.
        timeout: Timeout = "timeout",
        /// Devcontainer features.
        devcontainers: Devcontainers = "devcontainers",
        /// Volume mounts.
        volume_mounts: Vec<VolumeMount> = "volumeMounts",
        /// `octelium connect` flags.
        octelium: Octelium = "octelium",
    }
}

cordium_spec::wire_struct! {
    /// The merged, capped and substituted spec a workspace runs with.
    pub struct EffectiveSpec {
        /// The image (the Cluster default when no layer sets one).
        image: Image = "image",
        /// The primary repository.
        repository: Repository = "repository",
        /// Secondary repositories.
        additional_repositories: Vec<AdditionalRepository> = "additionalRepositories",
        /// Exposed ports.
        applications: Vec<Application> = "applications",
        /// Whether storage is deleted on stop (always present).
        is_ephemeral: bool = "isEphemeral",
        /// Compute (all three dimensions always present).
        limit: Limit = "limit",
        /// Container behaviour.
        runtime: EffectiveRuntime = "runtime",
        /// Dotfiles, from the UserConfig.
        dotfiles: Dotfiles = "dotfiles",
        /// The GitProvider, from the Template.
        git_provider: String = "gitProvider",
        /// The effective variables.
        vars: Vec<Var> = "vars",
    }
}

/// `metadata` of an EffectiveWorkspace.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
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
#[derive(Debug, Clone, PartialEq, serde::Serialize, schemars::JsonSchema)]
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
    pub fn to_yaml(&self) -> String {
        let mut options = serde_saphyr::SerializerOptions::default();
        options.prefer_block_scalars = false;
        serde_saphyr::to_string_with_options(self, options).unwrap_or_default()
    }

    /// As pretty JSON with a trailing newline.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self)
            .map(|s| s + "\n")
            .unwrap_or_default()
    }
}
