//! The runtime interface every backend implements (podman on one machine, Kubernetes beyond).
//!
//! A [`Runtime`] knows how to make one workspace's objects exist: its image, its `/workspace`
//! volume, its container, command executions inside it, and the volume snapshots pre-builds
//! leave behind. It knows nothing about states, plans or the store: the
//! [lifecycle](crate::lifecycle) drives it step by step and reports each state.
//!
//! Secret values travel as [`SecretValue`], whose `Debug` is redacted and which has no
//! `Display`; a backend must hand them to the container without putting them on a command
//! line, in a log, or anywhere its own inspection shows (podman: a mounted secret file;
//! Kubernetes: a Secret referenced by `secretKeyRef`).

use crate::plan::{ContainerPlan, VolumeOnStop, VolumeSource};
pub use crate::plan::{Egress, Mount, Port, Recipe, Resources};
use std::fmt;
use std::pin::Pin;

pub mod session;
pub mod stream;

pub use stream::{
    Duplex, ExitStatus, PortStream, ProcessStream, Signal, StreamInput, StreamOutput, StreamSpec,
    TermSize,
};

/// A stream of output chunks (logs).
pub type OutputStream =
    Pin<Box<dyn futures_core::Stream<Item = Result<Vec<u8>, RuntimeError>> + Send>>;

/// Which workspace's objects: the Space and the Workspace's name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct WorkspaceKey {
    /// The Space, e.g. `team.alice`.
    pub space: String,
    /// The Workspace's name, e.g. `k3x9`.
    pub name: String,
}

impl WorkspaceKey {
    /// A key.
    pub fn new(space: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            space: space.into(),
            name: name.into(),
        }
    }

    /// A name for this workspace's runtime objects, valid as a DNS-1123 label (at most 63
    /// lowercase alphanumerics and `-`) and as a podman name: `cdm-<name>`. Workspace names
    /// are unique across every Space of a store, so no two workspaces share one; the Space is
    /// left out on purpose, since joining it with `-` would let `a.b`/`c-d` and `a-b.c`/`d`
    /// collide. (Runtimes label objects with the Space instead.)
    pub fn object_name(&self) -> String {
        object_name("cdm", &self.name)
    }
}

/// How every Space Volume's name begins ([`space_volume_name`]).
pub const SPACE_VOLUME_PREFIX: &str = "cdv-";

/// The runtime name of Space `space`'s Space Volume `volume` (a podman volume, a Kubernetes
/// claim), shared by the workspaces of the Space that mount it: `cdv-` and the first 32 hex
/// digits of the SHA-256 of `SPACE/VOLUME` (for an operator making claims:
/// `printf '%s' team.alice/datasets | sha256sum | cut -c1-32`). Space names hold no `/`, so the
/// pair is read back from its join; a readable join cannot be one-to-one within a DNS label
/// (`team.alice`/`cache-v1` and `team-alice.cache`/`v1` would both be
/// `cdv-team-alice-cache-v1`, and one user would mount another's volume), and nobody can find
/// two joins whose 128-bit digests agree.
pub fn space_volume_name(space: &str, volume: &str) -> String {
    use sha2::{Digest as _, Sha256};
    let digest = Sha256::digest(format!("{space}/{volume}").as_bytes());
    let mut name = String::from(SPACE_VOLUME_PREFIX);
    for byte in &digest[..16] {
        name.push_str(&format!("{byte:02x}"));
    }
    name
}

/// A DNS-1123 label `<prefix>-<rest>` (see [`WorkspaceKey::object_name`]).
pub fn object_name(prefix: &str, rest: &str) -> String {
    let mut name = String::with_capacity(prefix.len() + rest.len() + 1);
    name.push_str(prefix);
    name.push('-');
    for c in rest.chars() {
        name.push(if c.is_ascii_alphanumeric() {
            c.to_ascii_lowercase()
        } else {
            '-'
        });
    }
    if name.len() <= 63 {
        return name;
    }
    // FNV-1a: stable across runs and platforms, unlike the std hasher.
    let hash = rest.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    name.truncate(46);
    format!("{}-{hash:016x}", name.trim_end_matches('-'))
}

/// A secret's value. `Debug` prints `<redacted>`; there is no `Display`; read it with
/// [`SecretValue::expose`] only where it is handed over.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretValue(String);

impl SecretValue {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value itself.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// An environment variable's value once references are resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResolvedValue {
    /// Not secret: may be shown (podman inspect, a Pod spec).
    Literal(String),
    /// Secret: must never be shown.
    Secret(SecretValue),
}

/// Environment variables in order, each key at most once.
pub type ResolvedEnv = Vec<(String, ResolvedValue)>;

/// Credentials for a registry or a git server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Login {
    /// The user name (may be empty).
    pub username: String,
    /// The password or token.
    pub password: SecretValue,
}

/// Everything a runtime needs to run a workspace's container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerSpec {
    /// Whose container.
    pub key: WorkspaceKey,
    /// The image reference, already pulled or built.
    pub image: String,
    /// The entrypoint, a shell command; `None`: the image's.
    pub entrypoint: Option<String>,
    /// The command, a shell command; `None`: keep the container alive doing nothing.
    pub cmd: Option<String>,
    /// The container's environment, secrets included.
    pub env: ResolvedEnv,
    /// Compute limits.
    pub resources: Resources,
    /// Linux capabilities to add (`CAP_` prefix optional).
    pub add_capabilities: Vec<String>,
    /// Linux capabilities to drop.
    pub drop_capabilities: Vec<String>,
    /// Ports to expose.
    pub ports: Vec<Port>,
    /// Where the volume's content comes from.
    pub volume: VolumeSource,
    /// The snapshot to restore for [`VolumeSource::FromSnapshot`].
    pub snapshot: Option<String>,
    /// The root filesystem is read-only; `/tmp`, `/run`, HOME and `/workspace` stay
    /// writable.
    pub read_only: bool,
    /// Space Volumes to mount.
    pub mounts: Vec<Mount>,
    /// What the workspace's processes may connect to, applied before any of them runs.
    pub egress: Egress,
    /// The fingerprints a kept container is labelled with ([`Runtime::kept_container`]).
    pub recipe: Recipe,
}

/// What a backend kept of a workspace's container after its last stop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeptContainer {
    /// The backend keeps no container across runs (Kubernetes: the Pod goes on every stop;
    /// only the volume persists).
    NotKept,
    /// The container is gone.
    Gone,
    /// The container is there, made from this recipe.
    Present(Recipe),
}

/// The container's main process when the spec sets no command: it stays up doing nothing and
/// exits at once on SIGTERM.
pub const KEEP_ALIVE: &str = "trap 'exit 0' TERM INT; while :; do sleep 3600 & wait $!; done";

impl ContainerSpec {
    /// The container `plan` describes, with what only the run knows: whose it is, the image
    /// reference once pulled or built, the environment with secret values, and the volume.
    pub fn new(
        key: &WorkspaceKey,
        plan: &ContainerPlan,
        image: String,
        env: ResolvedEnv,
        volume: VolumeSource,
        snapshot: Option<&str>,
    ) -> Self {
        Self {
            key: key.clone(),
            image,
            entrypoint: plan.entrypoint.clone(),
            cmd: plan.cmd.clone(),
            env,
            resources: plan.resources,
            add_capabilities: plan.add_capabilities.clone(),
            drop_capabilities: plan.drop_capabilities.clone(),
            ports: plan.ports.clone(),
            volume,
            snapshot: snapshot.map(str::to_owned),
            read_only: plan.read_only,
            mounts: plan.mounts.clone(),
            egress: plan.egress.clone(),
            recipe: Recipe::default(),
        }
    }

    /// The shell command the container runs: the entrypoint and the command joined (both are
    /// shell commands), or the one that is set; `None` when neither is (run [`KEEP_ALIVE`]).
    /// Every backend runs it as `/bin/sh -c`, so the image's own entrypoint does not run.
    pub fn main_command(&self) -> Option<String> {
        match (&self.entrypoint, &self.cmd) {
            (None, None) => None,
            (Some(entrypoint), Some(cmd)) => Some(format!("{entrypoint} {cmd}")),
            (Some(one), None) | (None, Some(one)) => Some(one.clone()),
        }
    }
}

/// The registry host an image reference names (`docker.io` when it names none).
pub fn registry_host(image: &str) -> &str {
    match image.split_once('/') {
        Some((first, _)) if first.contains(['.', ':']) || first == "localhost" => first,
        _ => "docker.io",
    }
}

/// A command run inside a workspace's container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecSpec {
    /// A shell script, run as `sh -c <script>`.
    pub script: String,
    /// Variables set on top of the container's environment.
    pub env: ResolvedEnv,
    /// The working directory; `None`: the user's home.
    pub working_dir: Option<String>,
    /// Run as root rather than the container's user.
    pub as_root: bool,
    /// Send output to the workspace's log ([`Runtime::logs`]) instead of returning it.
    pub to_log: bool,
    /// Start it and return at once, without waiting (exit code 0).
    pub detach: bool,
}

impl ExecSpec {
    /// A foreground script whose output goes to the workspace log.
    pub fn logged(script: impl Into<String>) -> Self {
        Self {
            script: script.into(),
            env: Vec::new(),
            working_dir: None,
            as_root: false,
            to_log: true,
            detach: false,
        }
    }

    /// A foreground script whose output is returned.
    pub fn captured(script: impl Into<String>) -> Self {
        Self {
            to_log: false,
            ..Self::logged(script)
        }
    }
}

/// How an execution ended.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecOutput {
    /// The exit code (`-1` when killed by a signal).
    pub exit_code: i32,
    /// Standard output, when captured.
    pub stdout: Vec<u8>,
    /// Standard error, when captured.
    pub stderr: Vec<u8>,
}

/// What the runtime says about a workspace's container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContainerState {
    /// No container.
    Absent,
    /// Created or starting, not yet running.
    Pending,
    /// Running.
    Running,
    /// The image cannot be pulled (Kubernetes: `ImagePullBackOff`, `ErrImagePull`).
    ImagePullFailed(String),
    /// The container exited or cannot run.
    Failed(String),
}

/// Everything that can go wrong in a runtime.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuntimeError {
    /// The image could not be pulled.
    #[error("cannot pull image `{image}`: {detail}")]
    ImagePull {
        /// The image reference.
        image: String,
        /// What the engine said.
        detail: String,
    },
    /// The image could not be built.
    #[error("cannot build the image: {detail}")]
    ImageBuild {
        /// What the engine said.
        detail: String,
    },
    /// The container could not be created or started.
    #[error("cannot run the container: {detail}")]
    RunContainer {
        /// What the engine said.
        detail: String,
    },
    /// The workspace has no running container.
    #[error("workspace `{name}` has no running container")]
    NotRunning {
        /// The object name.
        name: String,
    },
    /// A write conflicted with a concurrent one and retries ran out.
    #[error("conflict writing {object}: {detail}")]
    Conflict {
        /// The object.
        object: String,
        /// What the API said.
        detail: String,
    },
    /// The backend cannot do this.
    #[error("the {backend} runtime does not support {what}")]
    Unsupported {
        /// The backend's name.
        backend: &'static str,
        /// What was asked for.
        what: &'static str,
    },
    /// Nothing listens on the port inside the workspace.
    #[error("nothing listens on port {port} in workspace `{name}`")]
    PortClosed {
        /// The object name.
        name: String,
        /// The port.
        port: u16,
    },
    /// A captured execution wrote more than [`EXEC_OUTPUT_LIMIT`] on one of its outputs; it
    /// was stopped.
    #[error(
        "the command wrote more than {} MiB on {stream}; it was stopped (stream its output \
         instead: `cordium exec`, or ssh; or write it to a file)",
        EXEC_OUTPUT_LIMIT >> 20
    )]
    OutputTooLarge {
        /// `stdout` or `stderr`.
        stream: &'static str,
    },
    /// The request asks for what this runtime cannot do (an environment variable podman
    /// reads itself, say): the caller's to change, not a failure to retry.
    #[error("{detail}")]
    Refused {
        /// What cannot be done, and what to do instead.
        detail: String,
    },
    /// The engine or API could not be reached, or failed otherwise.
    #[error("{operation} failed: {detail}")]
    Engine {
        /// What was being done, e.g. `podman volume create`.
        operation: String,
        /// What it said.
        detail: String,
    },
}

/// The most a captured execution ([`Runtime::exec`]) may write on each of its outputs: both
/// are held in memory, and answered in one gRPC message (`ExecWorkspace`), which clients
/// accept up to 4 MiB. Larger output streams (`ExecStream`, SSH).
pub const EXEC_OUTPUT_LIMIT: usize = 1 << 20;

/// Reads `reader` to its end, or fails with [`RuntimeError::OutputTooLarge`] as soon as it
/// has more than [`EXEC_OUTPUT_LIMIT`] bytes (never holding more than one byte over).
pub async fn read_captured(
    reader: impl tokio::io::AsyncRead + Unpin,
    stream: &'static str,
) -> Result<Vec<u8>, RuntimeError> {
    use tokio::io::AsyncReadExt as _;
    let mut out = Vec::new();
    let limit = EXEC_OUTPUT_LIMIT as u64;
    reader
        .take(limit + 1)
        .read_to_end(&mut out)
        .await
        .map_err(|e| RuntimeError::Engine {
            operation: format!("reading the command's {stream}"),
            detail: e.to_string(),
        })?;
    if out.len() > EXEC_OUTPUT_LIMIT {
        return Err(RuntimeError::OutputTooLarge { stream });
    }
    Ok(out)
}

/// `keys`' states read with [`Runtime::state`], one after the other: the default of
/// [`Runtime::states`], and what a backend that can batch does for a few keys.
pub async fn states_one_by_one<R: Runtime + ?Sized>(
    runtime: &R,
    keys: &[WorkspaceKey],
) -> Vec<Result<ContainerState, RuntimeError>> {
    let mut states = Vec::with_capacity(keys.len());
    for key in keys {
        states.push(runtime.state(key).await);
    }
    states
}

/// A backend that runs workspaces. See the [module docs](self).
#[async_trait::async_trait]
pub trait Runtime: fmt::Debug + Send + Sync + 'static {
    /// The backend's name, e.g. `podman`.
    fn name(&self) -> &'static str;

    /// The image used when no layer sets one.
    fn default_image(&self) -> &str;

    /// Makes `image` available to `key`'s container, logging in with `login` when given (a
    /// backend that pulls at container start, like Kubernetes, records the login instead).
    async fn pull_image(
        &self,
        key: &WorkspaceKey,
        image: &str,
        login: Option<&Login>,
    ) -> Result<(), RuntimeError>;

    /// Builds `dockerfile` for `key` and returns the image reference.
    async fn build_image(
        &self,
        key: &WorkspaceKey,
        dockerfile: &str,
    ) -> Result<String, RuntimeError>;

    /// Creates the volume as `spec.volume` says, then creates and starts the container. A
    /// container left from an earlier run is replaced, unless the backend keeps containers,
    /// the volume is [`VolumeSource::Reused`] and the container's recipe is `spec.recipe`:
    /// then that container is started again, its filesystem as it was. The volume is reused
    /// only for [`VolumeSource::Reused`].
    async fn start(&self, spec: &ContainerSpec) -> Result<(), RuntimeError>;

    /// What is left of `key`'s container from its last run, so the caller can tell whether
    /// the next run starts it again or must re-create it (a fresh run). The default: the
    /// backend keeps no container.
    async fn kept_container(&self, key: &WorkspaceKey) -> Result<KeptContainer, RuntimeError> {
        let _ = key;
        Ok(KeptContainer::NotKept)
    }

    /// The container's state.
    async fn state(&self, key: &WorkspaceKey) -> Result<ContainerState, RuntimeError>;

    /// The states of `keys`' containers, in order: what the driver's health check reads
    /// every few seconds for every running workspace, so a backend that can read many at
    /// once should (podman: one `podman container inspect` for up to 256). The default asks
    /// [`Runtime::state`] of each in turn.
    async fn states(&self, keys: &[WorkspaceKey]) -> Vec<Result<ContainerState, RuntimeError>> {
        states_one_by_one(self, keys).await
    }

    /// Runs a command in the running container, capturing at most [`EXEC_OUTPUT_LIMIT`] of
    /// each output ([`read_captured`]).
    async fn exec(&self, key: &WorkspaceKey, exec: &ExecSpec) -> Result<ExecOutput, RuntimeError>;

    /// Stops the container, then does `volume` to the volume. The container is removed,
    /// except for [`VolumeOnStop::Keep`] on a backend that keeps containers. For
    /// [`VolumeOnStop::Snapshot`], `snapshot` names the snapshot to write.
    async fn stop(
        &self,
        key: &WorkspaceKey,
        volume: VolumeOnStop,
        snapshot: Option<&str>,
    ) -> Result<(), RuntimeError>;

    /// The workspaces this runtime holds objects of for its installation (the store's id it
    /// was given, which labels everything it makes), each once: the driver finishes the
    /// deletes a crash cut short among them. Objects without the label (made by another
    /// installation, by hand, or before labels existed) are never listed; a runtime given no
    /// installation lists nothing.
    async fn held(&self) -> Result<Vec<WorkspaceKey>, RuntimeError>;

    /// Removes everything the workspace has: container, volume, stored secrets.
    async fn delete(&self, key: &WorkspaceKey) -> Result<(), RuntimeError>;

    /// Whether a snapshot exists.
    async fn snapshot_exists(&self, snapshot: &str) -> Result<bool, RuntimeError>;

    /// Removes a snapshot (absent is fine).
    async fn delete_snapshot(&self, snapshot: &str) -> Result<(), RuntimeError>;

    /// Removes the Space Volumes an earlier Space named `space` left (it was deleted, with its
    /// workspaces, and perhaps its owner), before a new Space of the name is made: whoever
    /// owns the new one starts without the old one's files. The default does nothing: on
    /// Kubernetes the claims are the operator's, made and removed by hand.
    async fn remove_space_volumes(&self, space: &str) -> Result<(), RuntimeError> {
        let _ = space;
        Ok(())
    }

    /// The workspace's log: the container's output and every logged execution's, from the
    /// start; with `follow`, the stream stays open for new output until the container stops.
    async fn logs(&self, key: &WorkspaceKey, follow: bool) -> Result<OutputStream, RuntimeError>;

    /// Starts `spec` in the running container as a streamed, optionally interactive process
    /// (see [`stream`]). Returns once the process runs: an error here means it never started
    /// ([`RuntimeError::NotRunning`] when the container is not running).
    async fn stream(
        &self,
        key: &WorkspaceKey,
        spec: &StreamSpec,
    ) -> Result<ProcessStream, RuntimeError> {
        let _ = (key, spec);
        Err(RuntimeError::Unsupported {
            backend: self.name(),
            what: "streamed processes",
        })
    }

    /// Opens a TCP connection to `port` on the container's loopback interface (what
    /// `localhost:PORT` is inside the workspace), for port forwarding.
    async fn connect(&self, key: &WorkspaceKey, port: u16) -> Result<PortStream, RuntimeError> {
        let _ = (key, port);
        Err(RuntimeError::Unsupported {
            backend: self.name(),
            what: "port connections",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn captured_output_is_held_up_to_its_limit_and_refused_past_it() {
        let at_limit = vec![b'y'; EXEC_OUTPUT_LIMIT];
        let read = read_captured(at_limit.as_slice(), "stdout")
            .await
            .expect("at the limit");
        assert_eq!(read.len(), EXEC_OUTPUT_LIMIT);
        let over = vec![b'y'; EXEC_OUTPUT_LIMIT + 1];
        let e = read_captured(over.as_slice(), "stderr")
            .await
            .expect_err("past the limit");
        assert!(matches!(
            e,
            RuntimeError::OutputTooLarge { stream: "stderr" }
        ));
        assert!(e.to_string().contains("more than 1 MiB on stderr"), "{e}");
        // An endless writer is cut off after one byte past the limit.
        let endless = tokio::io::repeat(b'y');
        assert!(read_captured(endless, "stdout").await.is_err());
    }

    #[test]
    fn object_names_are_dns_labels() {
        let key = WorkspaceKey::new("team.Alice", "k3X9");
        assert_eq!(key.object_name(), "cdm-k3x9");
        let long = WorkspaceKey::new("s", "a".repeat(80));
        let other = WorkspaceKey::new("s", "a".repeat(81));
        let (a, b) = (long.object_name(), other.object_name());
        assert!(a.len() <= 63 && b.len() <= 63, "{a} {b}");
        assert_ne!(a, b);
        assert!(
            a.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        );
    }

    #[test]
    fn registries_are_found_in_image_references() {
        assert_eq!(registry_host("127.0.0.1:5000/x/y:1"), "127.0.0.1:5000");
        assert_eq!(registry_host("ghcr.io/a/b"), "ghcr.io");
        assert_eq!(registry_host("localhost/a"), "localhost");
        assert_eq!(registry_host("library/debian"), "docker.io");
        assert_eq!(registry_host("debian"), "docker.io");
    }

    #[test]
    fn secret_values_are_redacted_in_debug() {
        let v = ResolvedValue::Secret(SecretValue::new("hunter2"));
        assert!(!format!("{v:?}").contains("hunter2"));
    }
}
