//! The start plan and the stop plan of one run, as data.
//!
//! [`plan()`] reads an [`EffectiveWorkspace`](cordium_merge::EffectiveWorkspace) and a
//! [`RunContext`](crate::RunContext) and says what a backend does,
//! in order:
//!
//! 1. **Volume**: `/workspace`, new on fresh runs, restored from the Template's pre-build
//!    snapshot, or reused ([`VolumeStep`]).
//! 2. **Image** (`INITIALIZING`, then `PULLING_IMAGE` or `BUILDING_IMAGE`): pull a registry
//!    image (with its credentials' Secret), build a Dockerfile (inline or at a URL), a git
//!    repository or the workspace's own repository, pull the backend's default image when no
//!    layer set one, or reuse the container on runs that are not fresh ([`ImageStep`]).
//! 3. **Environment**: the EffectiveWorkspace's merged `envVars` (already in the contract's
//!    precedence: UserConfig < Space < Template < repository file < Workspace), secrets left as
//!    references, then the system variables on top: `CORDIUM_NAME` and the session credential
//!    `CORDIUM_SESSION_TOKEN` ([`EnvEntry`]). The image's own environment is below all of it.
//! 4. **Clones** (`PREPARING`, fresh runs): the primary repository into `/workspace/repo`, then
//!    every additional repository ([`CloneStep`]).
//! 5. **Dotfiles**: clone into `~/dotfiles` and run the first executable install script among
//!    [`DOTFILES_INSTALL_SCRIPTS`] ([`DotfilesStep`]).
//! 6. **Tasks**: every ON_CREATE task (fresh runs only), then every POST_START task, each
//!    phase in compiled order ([`PlannedTask`]); then `RUNNING`.
//!
//! The stop plan runs the PRE_STOP tasks (none for builds), terminates background tasks and
//! keeps, deletes or snapshots the volume ([`StopPlan`]).
//!
//! The [`Plan`] is the whole contract between the compiler and the runtime: the
//! [lifecycle](crate::lifecycle) reads nothing else of the workspace (the container it runs,
//! [`ContainerPlan`], included). It names secrets and never holds a value: values are fetched
//! by the caller and reach the runtime as [`SecretValue`](crate::runtime::SecretValue)s.

use crate::state::{Failure, State};
use cordium_spec::TaskType;
use std::collections::BTreeSet;
use std::time::Duration;

mod build;
mod egress;

pub use build::{check_grantable, plan};
pub use cordium_spec::shapes::{Cidr, parse_cidr};
pub use egress::{Egress, EgressAction, EgressDefault, EgressRule, NON_PUBLIC, non_public};

/// The workspace volume's mount path.
pub const WORKSPACE_DIR: &str = "/workspace";
/// Where the primary repository is cloned.
pub const REPOSITORY_DIR: &str = "/workspace/repo";
/// Where additional repositories are cloned by default, each in a folder named after it.
pub const ADDITIONAL_REPOSITORIES_DIR: &str = "/workspace/additional-repos";
/// Where dotfiles are cloned, in the workspace user's home.
pub const DOTFILES_DIR: &str = "~/dotfiles";
/// The dotfiles install scripts, in upstream's order: the first that exists, is a file and is
/// executable by its owner runs (as the workspace user).
pub const DOTFILES_INSTALL_SCRIPTS: [&str; 8] = [
    "install.sh",
    "install",
    "bootstrap.sh",
    "bootstrap",
    "script/bootstrap",
    "setup.sh",
    "setup",
    "script/setup",
];
/// The environment variable that carries the run's session credential.
pub const SESSION_TOKEN_VAR: &str = "CORDIUM_SESSION_TOKEN";
/// The environment variable that carries the Workspace's name.
pub const WORKSPACE_NAME_VAR: &str = "CORDIUM_NAME";
/// How long the PRE_STOP phase may take.
pub const PRE_STOP_TIMEOUT: Duration = Duration::from_secs(10 * 60);

/// The value of an environment variable: a literal or a reference, never a secret's value.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub enum EnvValue {
    /// A literal value.
    Literal(String),
    /// The value of a Secret of the Space, by name.
    FromSecret(String),
    /// The value of a UserSecret of the user, by name.
    FromUserSecret(String),
    /// The run's session credential, injected by the runtime.
    SessionToken,
}

/// One environment variable.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct EnvEntry {
    /// The name.
    pub key: String,
    /// The value.
    pub value: EnvValue,
}

/// Where a password comes from.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub enum SecretSource {
    /// A Secret of the Space, by name.
    Secret(String),
    /// A UserSecret of the user, by name.
    UserSecret(String),
}

/// A user name and where its password comes from.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Credentials {
    /// The user name (may be empty, e.g. for tokens).
    pub username: String,
    /// The password.
    pub password: SecretSource,
}

/// Where the `/workspace` volume's content comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum VolumeSource {
    /// A new, empty volume (fresh runs).
    New,
    /// Restored from the Template's pre-build snapshot.
    FromSnapshot,
    /// The volume of the previous run, as it was left.
    Reused,
}

/// The workspace volume.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct VolumeStep {
    /// The mount path ([`WORKSPACE_DIR`]).
    pub path: String,
    /// Where its content comes from.
    pub source: VolumeSource,
}

/// A Dockerfile to build.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub enum DockerfileSource {
    /// The Dockerfile's text.
    Inline(String),
    /// A URL to fetch it from.
    Url(String),
}

/// An image built from the workspace's primary repository (cloned first).
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub enum RepositoryBuild {
    /// From a devcontainer definition.
    Devcontainer {
        /// The directory holding `devcontainer.json`; `None`: the usual places.
        dir_path: Option<String>,
    },
    /// From a Dockerfile.
    Dockerfile {
        /// The Dockerfile's path; `None`: `Dockerfile`.
        path: Option<String>,
        /// The build context; `None`: the repository's root.
        context: Option<String>,
    },
}

/// How the container's image is obtained.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ImageStep {
    /// Pull from a registry.
    Pull {
        /// The image reference.
        url: String,
        /// Registry credentials, when set.
        credentials: Option<Credentials>,
    },
    /// No layer set an image: pull the backend's default workspace image.
    PullDefault,
    /// Build a Dockerfile.
    BuildDockerfile(DockerfileSource),
    /// Build from a separate git repository.
    BuildGit {
        /// The repository URL.
        url: String,
        /// A commit, tag or branch to check out.
        checkout: Option<String>,
        /// The Dockerfile's path; `None`: `.devcontainer/devcontainer.json` or
        /// `.devcontainer.json`.
        dockerfile: Option<String>,
        /// The build context.
        context: Option<String>,
    },
    /// Build from the workspace's primary repository.
    BuildRepository(RepositoryBuild),
    /// Not a fresh run: start the existing container with its image.
    Reuse {
        /// Which image the previous run used.
        image: ReusedImage,
        /// The image's registry login, when it has one: the image is pulled again with it, so
        /// a copy cached by another workspace never stands in for a login.
        credentials: Option<Credentials>,
    },
}

/// The image a run that is not fresh starts its container with.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ReusedImage {
    /// The registry image (pulled again when it has a login).
    Url(String),
    /// The tag an inline Dockerfile was built under (built again: the engine's cache answers,
    /// and a removed image is repaired); the default image when the build fails.
    Dockerfile(String),
    /// The backend's default image.
    Default,
}

impl ImageStep {
    /// The lifecycle state while this step runs (`None` for [`ImageStep::Reuse`]).
    pub fn state(&self) -> Option<State> {
        match self {
            ImageStep::Pull { .. } | ImageStep::PullDefault => Some(State::PullingImage),
            ImageStep::BuildDockerfile(_)
            | ImageStep::BuildGit { .. }
            | ImageStep::BuildRepository(_) => Some(State::BuildingImage),
            ImageStep::Reuse { .. } => None,
        }
    }

    /// The failure this step reports when it fails (`None` for [`ImageStep::Reuse`]).
    pub fn failure(&self) -> Option<Failure> {
        self.state().map(|s| {
            if s == State::PullingImage {
                Failure::ImagePull
            } else {
                Failure::ImageBuild
            }
        })
    }
}

/// How much history a clone fetches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub enum CloneHistory {
    /// The default: a shallow clone first, the full history fetched afterwards.
    ShallowThenFull,
    /// `disableLazyUnshallow` without `depth`: the full history at once.
    Full,
    /// `disableLazyUnshallow` with `depth`: that many commits.
    Depth(u32),
}

/// One `git clone`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct CloneStep {
    /// The additional repository's name; `None` for the primary repository.
    pub additional: Option<String>,
    /// The repository URL.
    pub url: String,
    /// Where to clone it.
    pub path: String,
    /// The branch; `None`: the repository's default branch.
    pub branch: Option<String>,
    /// A commit or tag to check out after cloning.
    pub checkout: Option<String>,
    /// How much history to fetch.
    pub history: CloneHistory,
    /// Clone only the branch.
    pub single_branch: bool,
    /// Shallow-clone submodules.
    pub shallow_submodules: bool,
    /// HTTP credentials, when set.
    pub credentials: Option<Credentials>,
}

impl CloneStep {
    /// The failure this clone reports when it fails.
    pub fn failure(&self) -> Failure {
        Failure::RepositoryClone {
            additional: self.additional.clone(),
        }
    }
}

/// The user's dotfiles.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct DotfilesStep {
    /// The repository URL.
    pub url: String,
    /// The branch; `None`: the default branch.
    pub branch: Option<String>,
    /// HTTP credentials (a UserSecret), when set.
    pub credentials: Option<Credentials>,
    /// Where to clone ([`DOTFILES_DIR`]).
    pub dir: String,
    /// The install script candidates, in order ([`DOTFILES_INSTALL_SCRIPTS`]).
    pub install_scripts: Vec<String>,
}

/// A task as it runs.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct PlannedTask {
    /// The task's name (`tasks[N]`, its place in the compiled list, when it has none).
    pub name: String,
    /// Its phase.
    pub phase: TaskType,
    /// The shell command, run as `<shell> -c <run>`.
    pub run: String,
    /// The working directory; `None`: the user's home.
    pub working_dir: Option<String>,
    /// Its whole environment: the workspace's, with the task's own variables set or replaced
    /// by key. The runtime sets `HOME` to the user's home (`/root` with `run_as_root`).
    pub env: Vec<EnvEntry>,
    /// Runs in the background: the phase does not wait for it.
    pub background: bool,
    /// A failure aborts the phase (`ON_FAILURE_ABORT`); otherwise the next task runs.
    pub abort_on_failure: bool,
    /// Runs as root instead of the workspace user.
    pub run_as_root: bool,
}

/// What a task's exit does to its phase.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub enum TaskOutcome {
    /// Go on with the next task (it succeeded, or its failure does not abort).
    Continue,
    /// Abort the phase with this failure.
    Abort(Failure),
}

/// What a task's exit code does: a non-zero exit of an `ON_FAILURE_ABORT` task aborts with
/// [`Failure::Task`]; anything else continues (`ON_FAILURE_UNSET` behaves as `CONTINUE`).
pub fn task_outcome(task: &PlannedTask, exit_code: i32) -> TaskOutcome {
    if exit_code != 0 && task.abort_on_failure {
        TaskOutcome::Abort(Failure::Task {
            name: task.name.clone(),
            exit_code,
        })
    } else {
        TaskOutcome::Continue
    }
}

/// The compute a container may use; `None`: no limit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Resources {
    /// CPU in millicores.
    pub cpu_millis: Option<u64>,
    /// Memory in MiB.
    pub memory_mib: Option<u64>,
    /// Storage of the workspace volume in MiB.
    pub storage_mib: Option<u64>,
}

/// A port the workspace serves (an application).
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Port {
    /// The application's name.
    pub name: String,
    /// The container port.
    pub port: u16,
}

/// The container every backend runs, as the compiler decided it: everything of the runtime's
/// [`ContainerSpec`](crate::runtime::ContainerSpec) except what only the run knows (the
/// image reference once pulled or built, secret values, the snapshot).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, serde::Serialize)]
pub struct ContainerPlan {
    /// The entrypoint, a shell command; `None`: the image's.
    pub entrypoint: Option<String>,
    /// The command, a shell command; `None`: keep the container alive doing nothing.
    pub cmd: Option<String>,
    /// Compute limits.
    pub resources: Resources,
    /// Linux capabilities to add (`CAP_` prefix optional).
    pub add_capabilities: Vec<String>,
    /// Linux capabilities to drop.
    pub drop_capabilities: Vec<String>,
    /// Ports to expose.
    pub ports: Vec<Port>,
    /// The root filesystem is read-only (`filesystem.readOnly`); `/tmp`, `/run`, HOME and
    /// `/workspace` stay writable.
    pub read_only: bool,
    /// Space Volumes mounted into the container (`volumeMounts`).
    pub mounts: Vec<Mount>,
    /// What the workspace's processes may connect to (`network.egress`).
    pub egress: Egress,
}

/// The capabilities a workspace's processes have when its spec adds and drops none: podman's
/// and Docker's default set, without `NET_RAW`, `MKNOD` and `AUDIT_WRITE`.
pub const DEFAULT_CAPABILITIES: [&str; 11] = [
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "NET_BIND_SERVICE",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_CHROOT",
];

/// The capabilities a spec may add to [`DEFAULT_CAPABILITIES`]: the rest of podman's default
/// set (`AUDIT_WRITE`, `MKNOD`), and `SYS_PTRACE` for debuggers. Anything else is refused at
/// the start ([`check_grantable`](crate::check_grantable())), whichever layer added it: a workspace's isolation rests on withholding the others. Container root with
/// `NET_ADMIN` could flush the egress rules in its own network namespace and then reach other
/// workspaces and the host; `NET_RAW` sends packets past them; `SYS_ADMIN` and `ALL` open the
/// kernel's wider surface to a user who asked for it in a spec.
pub const ALSO_GRANTABLE: [&str; 3] = ["AUDIT_WRITE", "MKNOD", "SYS_PTRACE"];

/// Whether a run may hold `capability` (upper case, without `CAP_`): one of
/// [`DEFAULT_CAPABILITIES`] or [`ALSO_GRANTABLE`].
pub fn is_grantable(capability: &str) -> bool {
    DEFAULT_CAPABILITIES.contains(&capability) || ALSO_GRANTABLE.contains(&capability)
}

/// Every grantable capability, sorted and joined by `, ` (for messages).
pub fn grantable_list() -> String {
    let mut all: Vec<&str> = DEFAULT_CAPABILITIES
        .iter()
        .chain(&ALSO_GRANTABLE)
        .copied()
        .collect();
    all.sort_unstable();
    all.join(", ")
}

/// A compiled capability set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Capabilities {
    /// Exactly these (upper case, no `CAP_` prefix, sorted).
    Exactly(Vec<String>),
    /// Every capability but these (`add: [ALL]`).
    AllBut(Vec<String>),
}

/// The compiled capability set: [`DEFAULT_CAPABILITIES`] plus `add`, minus `drop` (drop
/// wins); `ALL` in `add` starts from every capability, `ALL` in `drop` from none.
pub fn capabilities(add: &[String], drop: &[String]) -> Capabilities {
    let norm = |c: &String| c.trim_start_matches("CAP_").to_ascii_uppercase();
    let dropped: BTreeSet<String> = drop.iter().map(norm).collect();
    let added: BTreeSet<String> = add.iter().map(norm).collect();
    if added.contains("ALL") && !dropped.contains("ALL") {
        return Capabilities::AllBut(dropped.into_iter().collect());
    }
    let base = if dropped.contains("ALL") {
        BTreeSet::new()
    } else {
        DEFAULT_CAPABILITIES
            .iter()
            .map(|c| (*c).to_owned())
            .collect()
    };
    Capabilities::Exactly(
        base.into_iter()
            .chain(added)
            .filter(|c| c != "ALL" && !dropped.contains(c))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect(),
    )
}

/// A Space Volume mounted into the container.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Mount {
    /// The Volume's name (in the workspace's Space).
    pub volume: String,
    /// Where it is mounted.
    pub path: String,
    /// Writes are refused.
    pub read_only: bool,
}

/// What a kept container was made from, as two fingerprints a backend stores on the
/// container: a run whose plan has other ones re-creates it ([`crate::Recreate`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Recipe {
    /// The image's source (registry URL, inline Dockerfile text, or the default image).
    pub image: String,
    /// Everything else `podman run` is given: command, limits, capabilities, ports, mounts,
    /// the read-only root, and the environment (secret variables by the name of their
    /// source, never their value).
    pub settings: String,
}

/// FNV-1a of `text`, in hex: stable across runs and platforms, unlike the std hasher.
fn fingerprint(text: &str) -> String {
    let hash = text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    format!("{hash:016x}")
}

/// What a start does, in field order.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct StartPlan {
    /// The workspace volume.
    pub volume: VolumeStep,
    /// The image.
    pub image: ImageStep,
    /// The container (its environment is `env`).
    pub container: ContainerPlan,
    /// The environment of the container and of every task.
    pub env: Vec<EnvEntry>,
    /// Repository clones, primary first (fresh runs only).
    pub clones: Vec<CloneStep>,
    /// Dotfiles, when the user has them and this run installs them.
    pub dotfiles: Option<DotfilesStep>,
    /// Every ON_CREATE task (fresh runs), then every POST_START task, each in compiled order.
    pub tasks: Vec<PlannedTask>,
    /// Stop once every foreground task is done (`autoStop`, and every build).
    pub stop_when_done: bool,
    /// How long the start may take before [`Failure::StartupTimeout`].
    pub timeout: Duration,
}

impl StartPlan {
    /// The lifecycle states this start passes through, from `INIT_REQUEST` to `RUNNING`.
    /// The order is the transition table's ([`crate::state::start_path`]).
    pub fn states(&self) -> Vec<State> {
        crate::state::start_path(self.image.state())
    }
}

/// What happens to the volume once the workspace is stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum VolumeOnStop {
    /// Kept: a persistent workspace resumes where it left off.
    Keep,
    /// Deleted: an ephemeral workspace starts fresh every time.
    Delete,
    /// Snapshotted as the Template's pre-build (when the build succeeded).
    Snapshot,
}

/// What a stop does, in field order.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct StopPlan {
    /// The PRE_STOP tasks in compiled order (none for builds); then every background task is
    /// terminated.
    pub pre_stop: Vec<PlannedTask>,
    /// How long the PRE_STOP phase may take ([`PRE_STOP_TIMEOUT`]).
    pub timeout: Duration,
    /// What happens to the volume.
    pub volume: VolumeOnStop,
}

/// Both plans of one run.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Plan {
    /// The start.
    pub start: StartPlan,
    /// The stop.
    pub stop: StopPlan,
}

impl Plan {
    /// The fingerprints of the container this plan runs ([`Recipe`]); the same whether the
    /// run prepares the image or reuses it.
    pub fn recipe(&self) -> Recipe {
        let start = &self.start;
        let image = match &start.image {
            ImageStep::Pull { url, .. }
            | ImageStep::Reuse {
                image: ReusedImage::Url(url),
                ..
            } => format!("url {url}"),
            ImageStep::BuildDockerfile(DockerfileSource::Inline(text))
            | ImageStep::Reuse {
                image: ReusedImage::Dockerfile(text),
                ..
            } => format!("dockerfile {text}"),
            ImageStep::PullDefault
            | ImageStep::Reuse {
                image: ReusedImage::Default,
                ..
            } => "default".to_owned(),
            other => format!("{other:?}"),
        };
        let env: Vec<_> = start
            .env
            .iter()
            .filter(|e| e.value != EnvValue::SessionToken)
            .collect();
        Recipe {
            image: fingerprint(&image),
            // Egress is applied at every start, so a kept container need not be re-made.
            settings: fingerprint(&format!(
                "{:?} {env:?}",
                ContainerPlan {
                    egress: Egress::default(),
                    ..start.container.clone()
                }
            )),
        }
    }

    /// The Secrets and UserSecrets the run reads, by name: `(secrets, user_secrets)`.
    pub fn secret_names(&self) -> (BTreeSet<String>, BTreeSet<String>) {
        let start = &self.start;
        let from_env = start
            .env
            .iter()
            .chain(start.tasks.iter().flat_map(|t| &t.env))
            .chain(self.stop.pre_stop.iter().flat_map(|t| &t.env))
            .filter_map(|entry| match &entry.value {
                EnvValue::FromSecret(n) => Some(SecretSource::Secret(n.clone())),
                EnvValue::FromUserSecret(n) => Some(SecretSource::UserSecret(n.clone())),
                EnvValue::Literal(_) | EnvValue::SessionToken => None,
            });
        let image_login = match &start.image {
            ImageStep::Pull { credentials, .. } | ImageStep::Reuse { credentials, .. } => {
                credentials.as_ref()
            }
            _ => None,
        };
        let from_credentials = image_login
            .into_iter()
            .chain(start.clones.iter().filter_map(|c| c.credentials.as_ref()))
            .chain(start.dotfiles.iter().filter_map(|d| d.credentials.as_ref()))
            .map(|c| c.password.clone());
        let (mut secrets, mut user_secrets) = (BTreeSet::new(), BTreeSet::new());
        for source in from_env.chain(from_credentials) {
            match source {
                SecretSource::Secret(n) => secrets.insert(n),
                SecretSource::UserSecret(n) => user_secrets.insert(n),
            };
        }
        (secrets, user_secrets)
    }
}
