//! The Workspace kind and the parts of its spec that Templates share (image, runtime,
//! repositories).

use super::common::*;
use crate::shapes::{GitRef, MountPath, Name, Url};

crate::wire_struct! {
    /// Credentials for a container registry.
    pub struct RegistryAuth {
        /// The user name.
        username: String = "username",
        /// The password, from a Secret.
        password: SecretRef = "password",
    }
}

crate::wire_struct! {
    /// An image pulled from a registry.
    pub struct RegistryImage {
        /// The image reference, e.g. `python:3.11-slim` (may hold `${{ vars.NAME }}`).
        url: Url = "url",
        /// Registry credentials.
        authentication: RegistryAuth = "authentication",
    }
}

crate::wire_oneof! {
    /// A Dockerfile, inline or at a URL.
    pub enum DockerfileImage {
        /// The Dockerfile text, 1 to 5000 bytes.
        Inline(String) = "inline",
        /// A URL to fetch the Dockerfile from (may hold `${{ vars.NAME }}`).
        Url(Url) = "url",
    }
}

crate::wire_struct! {
    /// An image built from a separate git repository.
    pub struct GitImage {
        /// The repository URL (may hold `${{ vars.NAME }}`).
        url: Url = "url",
        /// A commit, tag or branch (may hold `${{ vars.NAME }}`).
        checkout: GitRef = "checkout",
        /// The Dockerfile path; empty means `.devcontainer/devcontainer.json` or
        /// `.devcontainer.json` (may hold `${{ vars.NAME }}`).
        dockerfile: String = "dockerfile",
        /// The build context (may hold `${{ vars.NAME }}`).
        context: String = "context",
    }
}

crate::wire_struct! {
    /// A devcontainer definition in the workspace's own repository.
    pub struct DevcontainerDir {
        /// The directory holding `devcontainer.json`.
        dir_path: String = "dirPath",
    }
}

crate::wire_struct! {
    /// A Dockerfile in the workspace's own repository.
    pub struct RepositoryDockerfile {
        /// The Dockerfile path.
        path: String = "path",
        /// The build context.
        context: String = "context",
    }
}

crate::wire_oneof! {
    /// An image built from the workspace's own primary repository.
    pub enum RepositoryImage {
        /// From a devcontainer definition.
        Devcontainer(DevcontainerDir) = "devcontainer",
        /// From a Dockerfile.
        Dockerfile(RepositoryDockerfile) = "dockerfile",
    }
}

crate::wire_oneof! {
    /// How the workspace's root filesystem image is obtained; one of `registry`,
    /// `dockerfile`, `git` or `repository`. Unset: the Cluster's default image.
    pub enum Image {
        /// Pull from a registry.
        Registry(RegistryImage) = "registry",
        /// Build from a Dockerfile.
        Dockerfile(DockerfileImage) = "dockerfile",
        /// Build from a separate git repository.
        Git(GitImage) = "git",
        /// Build from the workspace's primary repository.
        Repository(RepositoryImage) = "repository",
    }
}

crate::wire_struct! {
    /// A secondary repository.
    pub struct AdditionalRepository {
        /// A unique name.
        name: Name = "name",
        /// Where to clone it (default `/workspace/additional-repos/<name>`).
        clone_path: String = "clonePath",
        /// The repository.
        repository: Repository = "repository",
    }
}

crate::wire_struct! {
    /// A named port exposed through the portal.
    pub struct Application {
        /// A unique name, used as a subdomain prefix.
        name: Name = "name",
        /// A human-friendly name, at most 128 characters.
        display_name: String = "displayName",
        /// The port, 1 to 65535.
        port: i32 = "port",
        /// The default application (at most one).
        is_default: bool = "isDefault",
    }
}

crate::wire_struct! {
    /// An option of a devcontainer feature.
    pub struct FeatureOption {
        /// The option name.
        key: String = "key",
        /// The value.
        value: String = "value",
    }
}

crate::wire_struct! {
    /// A devcontainer feature.
    pub struct Feature {
        /// The feature reference, e.g. `ghcr.io/devcontainers/features/node:1`.
        reference: String = "reference",
        /// Options, at most 32.
        options: Vec<FeatureOption> = "options",
    }
}

crate::wire_struct! {
    /// Devcontainer settings.
    pub struct Devcontainers {
        /// Features to install, at most 100.
        features: Vec<Feature> = "features",
    }
}

crate::wire_struct! {
    /// Flags for the in-workspace `octelium connect`.
    pub struct Octelium {
        /// Services to serve.
        serve_services: Vec<String> = "serveServices",
        /// Serve every service.
        serve_all: bool = "serveAll",
    }
}

crate::wire_enum! {
    /// What an egress rule does.
    pub enum RuleAction {
        /// Allow.
        Allow = "ALLOW",
        /// Deny; deny rules win over allow rules.
        Deny = "DENY",
    }
}

crate::wire_enum! {
    /// What egress traffic no rule matches does.
    pub enum DefaultAction {
        /// Not set: `ALLOW_PUBLIC`.
        Unset = "DEFAULT_ACTION_UNSET",
        /// Allow public destinations.
        AllowPublic = "ALLOW_PUBLIC",
        /// Deny.
        Deny = "DENY",
    }
}

crate::wire_struct! {
    /// An egress rule.
    pub struct EgressRule {
        /// Destination CIDRs.
        cidrs: Vec<String> = "cidrs",
        /// Allow or deny.
        action: RuleAction = "action",
        /// Destination ports; empty means all.
        ports: Vec<u32> = "ports",
    }
}

crate::wire_struct! {
    /// Outbound traffic policy.
    pub struct Egress {
        /// Rules, concatenated across layers.
        rules: Vec<EgressRule> = "rules",
        /// What unmatched traffic does.
        default_action: DefaultAction = "defaultAction",
    }
}

crate::wire_struct! {
    /// Network policy.
    pub struct Network {
        /// Outbound traffic.
        egress: Egress = "egress",
    }
}

crate::wire_struct! {
    /// Root filesystem options.
    pub struct Filesystem {
        /// Mount the root filesystem read-only.
        read_only: bool = "readOnly",
    }
}

crate::wire_enum! {
    /// Inactivity timeout mode.
    pub enum TimeoutMode {
        /// Not set: `DEFAULT`.
        Unset = "MODE_UNSET",
        /// The Cluster's timeout.
        Default = "DEFAULT",
        /// No timeout (only if the Cluster allows it).
        Disabled = "DISABLED",
    }
}

crate::wire_struct! {
    /// Inactivity timeout.
    pub struct Timeout {
        /// The mode.
        mode: TimeoutMode = "mode",
    }
}

crate::wire_struct! {
    /// A reference to another resource.
    pub struct ObjectRef {
        /// Its name.
        name: String = "name",
        /// Its uid.
        uid: String = "uid",
    }
}

crate::wire_struct! {
    /// A Space Volume mounted into the workspace.
    pub struct VolumeMount {
        /// The Volume.
        volume_ref: ObjectRef = "volumeRef",
        /// Where (absolute, clean, not reserved).
        mount_path: MountPath = "mountPath",
        /// Mount read-only.
        read_only: bool = "readOnly",
    }
}

crate::wire_struct! {
    /// Container behaviour.
    pub struct Runtime {
        /// Environment variables, at most 128.
        env_vars: Vec<EnvVar> = "envVars",
        /// Lifecycle tasks, at most 128.
        tasks: Vec<Task> = "tasks",
        /// Do not run an init process as PID 1.
        disable_init: bool = "disableInit",
        /// Overrides the image command (default `sleep infinity`; may hold `${{ vars.NAME }}`).
        cmd: String = "cmd",
        /// Overrides the image entrypoint (may hold `${{ vars.NAME }}`).
        entrypoint: String = "entrypoint",
        /// Devcontainer features.
        devcontainers: Devcontainers = "devcontainers",
        /// In-workspace `octelium connect` flags.
        octelium: Octelium = "octelium",
        /// Network policy.
        network: Network = "network",
        /// Root filesystem options.
        filesystem: Filesystem = "filesystem",
        /// Linux capabilities.
        capabilities: Capabilities = "capabilities",
        /// Inactivity timeout.
        timeout: Timeout = "timeout",
        /// Stop once every foreground task is done.
        auto_stop: bool = "autoStop",
        /// Space Volumes to mount, at most 16.
        volume_mounts: Vec<VolumeMount> = "volumeMounts",
    }
}

crate::wire_struct! {
    /// What a Workspace asks for; merged with the other layers by the compiler.
    pub struct WorkspaceSpec {
        /// The image.
        image: Image = "image",
        /// Container behaviour.
        runtime: Runtime = "runtime",
        /// The primary repository, cloned into `/workspace/repo`.
        repository: Repository = "repository",
        /// Secondary repositories, at most 32.
        additional_repositories: Vec<AdditionalRepository> = "additionalRepositories",
        /// Exposed ports, at most 128.
        applications: Vec<Application> = "applications",
        /// Requested compute.
        limit: Limit = "limit",
        /// Variables for `${{ vars.NAME }}`.
        vars: Vec<Var> = "vars",
        /// Delete storage on stop; every start is fresh.
        is_ephemeral: bool = "isEphemeral",
    }
}

crate::wire_struct! {
    /// A Workspace (sandbox): the unit that runs. A document with no `kind` and a top-level
    /// `spec` is a Workspace.
    pub struct Workspace {
        /// `cordium/v1`.
        api_version: String = "apiVersion",
        /// `Workspace`.
        kind: String = "kind",
        /// Name and description.
        metadata: Metadata = "metadata",
        /// The spec.
        spec: WorkspaceSpec = "spec",
    }
}
