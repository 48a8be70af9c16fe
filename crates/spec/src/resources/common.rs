//! Types shared by several kinds: metadata, limits, variables, environment, tasks.

use crate::shapes::{Capability, GitRef, Url};
use indexmap::IndexMap;

crate::wire_struct! {
    /// Name and descriptive fields of a resource.
    pub struct Metadata {
        /// The resource name: lowercase letters, digits and `-`; Spaces have up to 2
        /// dot-separated parts (`team.cordium`), Templates up to 3.
        name: String = "name",
        /// A human-friendly name, at most 100 characters.
        display_name: String = "displayName",
        /// A description, at most 1024 characters.
        description: String = "description",
        /// Labels (at most 64).
        labels: IndexMap<String, String> = "labels",
        /// Annotations (at most 64).
        annotations: IndexMap<String, String> = "annotations",
    }
}

crate::wire_struct! {
    /// CPU: millicores (1000 = one core); 0 means not set.
    pub struct Cpu {
        /// Thousandths of a core, at most 1,000,000.
        millicores: u32 = "millicores",
    }
}

crate::wire_struct! {
    /// A size in megabytes; 0 means not set.
    pub struct Megabytes {
        /// Megabytes, at most 10,000,000.
        megabytes: u32 = "megabytes",
    }
}

crate::wire_struct! {
    /// Compute resources, per dimension. A dimension that is absent or 0 is not set.
    pub struct Limit {
        /// CPU.
        cpu: Cpu = "cpu",
        /// Memory.
        memory: Megabytes = "memory",
        /// Storage of the workspace volume.
        storage: Megabytes = "storage",
    }
}

crate::wire_struct! {
    /// A variable for `${{ vars.NAME }}` substitution.
    pub struct Var {
        /// The name: `[A-Za-z_][A-Za-z0-9_]*`.
        name: String = "name",
        /// The value, inserted as it is.
        value: String = "value",
    }
}

crate::wire_struct! {
    /// An environment variable of a Workspace, Template or Space: a literal `value` or a
    /// Secret of the Space (`fromSecret`), exactly one of the two.
    pub struct EnvVar {
        /// The variable name.
        key: String = "key",
        /// A literal value (may hold `${{ vars.NAME }}`).
        value: String = "value",
        /// The name of a Secret of the Space whose value is used.
        from_secret: String = "fromSecret",
    }
}

crate::wire_struct! {
    /// An environment variable of a UserConfig: a literal `value` or one of the user's
    /// UserSecrets (`fromUserSecret`), exactly one of the two.
    pub struct UserEnvVar {
        /// The variable name.
        key: String = "key",
        /// A literal value.
        value: String = "value",
        /// The name of a UserSecret whose value is used.
        from_user_secret: String = "fromUserSecret",
    }
}

/// Where an environment variable's value comes from: the one-of of [`EnvVar`] and
/// [`UserEnvVar`], as a Rust enum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnvSource<'a> {
    /// A literal value.
    Value(&'a str),
    /// A Secret of the Space, by name.
    FromSecret(&'a str),
    /// A UserSecret of the user, by name.
    FromUserSecret(&'a str),
}

impl EnvVar {
    /// The value source, when exactly one is set.
    pub fn source(&self) -> Option<EnvSource<'_>> {
        match (&self.value, &self.from_secret) {
            (Some(v), None) => Some(EnvSource::Value(v)),
            (None, Some(s)) => Some(EnvSource::FromSecret(s)),
            _ => None,
        }
    }
}

impl UserEnvVar {
    /// The value source, when exactly one is set.
    pub fn source(&self) -> Option<EnvSource<'_>> {
        match (&self.value, &self.from_user_secret) {
            (Some(v), None) => Some(EnvSource::Value(v)),
            (None, Some(s)) => Some(EnvSource::FromUserSecret(s)),
            _ => None,
        }
    }
}

crate::wire_struct! {
    /// A literal environment variable of a task.
    pub struct TaskEnvVar {
        /// The variable name.
        key: String = "key",
        /// The value (may hold `${{ vars.NAME }}`).
        value: String = "value",
    }
}

crate::wire_enum! {
    /// When a task runs.
    pub enum TaskType {
        /// On fresh runs only (first start, ephemeral starts, pre-builds), before POST_START.
        OnCreate = "ON_CREATE",
        /// On every start.
        PostStart = "POST_START",
        /// When the workspace stops.
        PreStop = "PRE_STOP",
    }
}

crate::wire_enum! {
    /// What a failing task does to the start.
    pub enum OnFailure {
        /// Not set: behaves as `ON_FAILURE_CONTINUE`.
        Unset = "ON_FAILURE_UNSET",
        /// Abort the start with a task failure.
        Abort = "ON_FAILURE_ABORT",
        /// Log the failure and run the next task.
        Continue = "ON_FAILURE_CONTINUE",
    }
}

crate::wire_struct! {
    /// A lifecycle task: a shell command run inside the workspace.
    pub struct Task {
        /// A name shown in logs and failures.
        name: String = "name",
        /// The command, run as `<shell> -c <run>` (may hold `${{ vars.NAME }}`).
        run: String = "run",
        /// When it runs (required).
        task_type: TaskType = "type",
        /// Extra literal environment variables.
        env_vars: Vec<TaskEnvVar> = "envVars",
        /// The working directory (default: the user's home; may hold `${{ vars.NAME }}`).
        working_dir: String = "workingDir",
        /// Run in the background; the start does not wait for it.
        is_background: bool = "isBackground",
        /// What a failure does.
        on_failure: OnFailure = "onFailure",
        /// Run as root instead of the workspace user.
        run_as_root: bool = "runAsRoot",
    }
}

crate::wire_struct! {
    /// Linux capabilities to add to or drop from the container.
    pub struct Capabilities {
        /// Capabilities to add.
        add: Vec<Capability> = "add",
        /// Capabilities to drop.
        drop: Vec<Capability> = "drop",
    }
}

crate::wire_struct! {
    /// A reference to a Secret by name.
    pub struct SecretRef {
        /// The Secret's name.
        from_secret: String = "fromSecret",
    }
}

crate::wire_struct! {
    /// A reference to a UserSecret by name.
    pub struct UserSecretRef {
        /// The UserSecret's name.
        from_user_secret: String = "fromUserSecret",
    }
}

crate::wire_struct! {
    /// A user name and a Secret holding the password or token.
    pub struct HttpAuth {
        /// The user name (for tokens, often `oauth2` or `x-access-token`).
        username: String = "username",
        /// The password.
        password: SecretRef = "password",
    }
}

crate::wire_struct! {
    /// Options of `git clone`.
    pub struct CloneOptions {
        /// The branch (default: the repository's default branch; may hold `${{ vars.NAME }}`).
        branch: GitRef = "branch",
        /// Clone depth (only with `disableLazyUnshallow`).
        depth: u32 = "depth",
        /// Clone only the branch.
        single_branch: bool = "singleBranch",
        /// Shallow-clone submodules.
        shallow_submodules: bool = "shallowSubmodules",
        /// A commit or tag to check out after cloning (may hold `${{ vars.NAME }}`).
        checkout: GitRef = "checkout",
        /// Clone the full history at once instead of shallow first, full in the background.
        disable_lazy_unshallow: bool = "disableLazyUnshallow",
    }
}

crate::wire_oneof! {
    /// How to authenticate to a git repository.
    pub enum RepositoryAuth {
        /// HTTP basic authentication.
        Http(HttpAuth) = "http",
    }
}

crate::wire_struct! {
    /// A git repository.
    pub struct Repository {
        /// An https URL (may hold `${{ vars.NAME }}`).
        url: crate::shapes::HttpsUrl = "url",
        /// Clone options.
        clone_options: CloneOptions = "cloneOptions",
        /// Credentials; not needed when the Template has a GitProvider.
        authentication: RepositoryAuth = "authentication",
    }
}

crate::wire_struct! {
    /// A git URL to clone dotfiles from, with optional branch and credentials.
    pub struct Dotfiles {
        /// The repository URL (may hold `${{ vars.NAME }}`).
        url: Url = "url",
        /// The branch (may hold `${{ vars.NAME }}`).
        branch: GitRef = "branch",
        /// Credentials.
        authentication: DotfilesAuth = "authentication",
    }
}

crate::wire_struct! {
    /// A user name and a UserSecret holding the password or token.
    pub struct UserHttpAuth {
        /// The user name.
        username: String = "username",
        /// The password.
        password: UserSecretRef = "password",
    }
}

crate::wire_oneof! {
    /// How to authenticate to the dotfiles repository.
    pub enum DotfilesAuth {
        /// HTTP basic authentication with a UserSecret.
        Http(UserHttpAuth) = "http",
    }
}
