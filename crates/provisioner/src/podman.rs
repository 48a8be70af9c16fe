//! The podman backend: workspaces as podman containers on one machine.
//!
//! It drives the `podman` command line (4.3 or later) rather than its HTTP API: podman's
//! Docker-compatible API ignores the OCI runtime and cannot pass `--tls-verify`, and the
//! command line also covers secrets, volume export and import, and builds from standard
//! input. Every invocation gets `CONTAINERS_CONF` pointing at a file this backend writes into
//! its state directory (runc, explicit `nofile` and `nproc` ulimits, cgroupfs, file logs), so
//! podman needs no setup by a person; `CONTAINERS_REGISTRIES_CONF` is set likewise when
//! insecure (plain HTTP) registries are configured.
//!
//! Objects per workspace, all named from [`WorkspaceKey::object_name`] `N`:
//! - container `N`, labelled `cordium.space`, `cordium.workspace`, the installation
//!   (`installation`) and its recipe (`persist`); a persistent workspace keeps it across
//!   stop and start;
//! - volume `N-workspace` at `/workspace`, and `N-home` at the workspace user's HOME
//!   ([`user`]);
//! - podman secret `N-env`, mounted at `/run/secrets/cordium-env`: the secret-valued
//!   environment as a shell file. The container's command and every execution source it
//!   before running, so secret values reach the environment of every process in the
//!   container but never a command line, a log, or `podman inspect` (podman 4 shows
//!   `type=env` secrets' values there, so they are not used). The secret lives only while
//!   the container is created: podman's store (a plain file under `/var/lib/containers`)
//!   keeps no value past it, and the container's own copy is rewritten at every start and
//!   blanked at every stop;
//! - Space Volumes mounted by `volumeMounts`: volumes `cdv-<digest of Space and volume>`
//!   ([`crate::runtime::space_volume_name`]);
//! - snapshots (pre-builds): under `<state>/snapshots/`, a tarball of the volumes and one
//!   of what the build changed in the root filesystem (`persist`).
//!
//! Every container runs in a user namespace of its own, as uid 1000, with no new privileges
//! and exactly the compiled capabilities (`sandbox`, [`user`]).
//!
//! Egress rules are nftables rules in each container's own network namespace, loaded by an
//! OCI hook before its first process runs (`egress`).
//!
//! Applications are not published on the host: they are reached through the container's
//! network namespace (`stream`), behind Cordium's credential.
//!
//! Known limits: the storage limit is enforced by measurement, not refused writes
//! (`storage`: podman needs XFS project quotas for volume sizes). A Space Volume is shared by
//! workspaces whose user namespaces differ: a file one of them writes belongs to an id the
//! others do not map.

pub mod agent;
mod build;
mod egress;
mod env;
mod installation;
mod login;
mod netns;
mod persist;
mod process;
mod sandbox;
mod state;
mod storage;
mod stream;
pub mod user;
mod userns;

pub use egress::ruleset as egress_ruleset;
pub use env::secret_env_file;
use env::{add_env, check_env, main_script};
pub use user::{ProcessUser, WorkspaceUser};

use crate::lifecycle::shell_quote;

use crate::plan::{VolumeOnStop, VolumeSource};
use crate::runtime::{
    ContainerSpec, ContainerState, ExecOutput, ExecSpec, KeptContainer, Login, OutputStream,
    PortStream, ProcessStream, Runtime, RuntimeError, StreamSpec, WorkspaceKey,
};
use std::path::{Path, PathBuf};

/// Where the secret environment file is mounted in every container.
pub const SECRET_ENV_FILE: &str = "/run/secrets/cordium-env";
/// Its name under `/run/secrets` (the podman secret's `target`).
const SECRET_TARGET: &str = "cordium-env";

/// Sources [`SECRET_ENV_FILE`] (when readable) with every variable exported.
const PRELUDE: &str =
    "if [ -r /run/secrets/cordium-env ]; then set -a; . /run/secrets/cordium-env; set +a; fi";

/// Starts the relay of the FIFO `/tmp/.cordium-log` to the main process's output, i.e. the
/// workspace's log (the main script's first step). Executions cannot open PID 1's output
/// (`/proc/1/fd/1`) under a user namespace: it is a pipe owned by host root, which container
/// root is not. The relay holds the FIFO open for writing itself, so it never sees an end of
/// file between writers.
const LOG_RELAY: &str = "mkfifo -m 666 /tmp/.cordium-log 2>/dev/null; \
     if [ -p /tmp/.cordium-log ]; then (exec 3<>/tmp/.cordium-log; exec cat <&3) & fi";

/// Sends the rest of the script's output to the workspace's log.
const TO_LOG: &str = "if [ -p /tmp/.cordium-log ]; then exec >>/tmp/.cordium-log 2>&1; fi";

/// How the podman backend is set up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodmanOptions {
    /// The `podman` program.
    pub program: PathBuf,
    /// Where the backend keeps its configuration files and snapshots (created if missing).
    pub state_dir: PathBuf,
    /// The image used when no layer sets one.
    pub default_image: String,
    /// The OCI runtime (`runc`: crun fails on hybrid cgroup hosts).
    pub oci_runtime: String,
    /// `ulimit`s every container gets, e.g. `nofile=1024:1024`.
    pub ulimits: Vec<String>,
    /// Registries (`host:port`) reached over plain HTTP.
    pub insecure_registries: Vec<String>,
    /// Seconds a container gets to exit on stop before it is killed.
    pub stop_timeout_secs: u32,
    /// Runs' SSH agent socket directories, one per container name (see [`agent`]).
    pub agent_sockets: Option<PathBuf>,
    /// Every container gets a user namespace of its own (`--userns=auto`), so container
    /// root is not host root; the backend adds subordinate ids for `containers` to
    /// `/etc/subuid` and `/etc/subgid` when they have none.
    pub user_namespace: bool,
    /// Builds images from users' Dockerfiles with the host's podman. Off (the default), an
    /// image build fails with a message saying why and what to do instead: the host's builder
    /// runs a Dockerfile as the host's root, and a base image's `ONBUILD` triggers run in the
    /// build where no check of the Dockerfile's text sees them (`ONBUILD RUN --network=host`
    /// reaches the host's network on any podman; `ONBUILD RUN --mount` the host's files before
    /// podman 5.2.5, CVE-2024-1753 and CVE-2024-9675). For installations whose users are all
    /// trusted with the host (and the tests).
    pub allow_builds: bool,
    /// The installation (its store's id) every container and volume is labelled with, so
    /// that [`Runtime::held`] finds this installation's objects and no other's
    /// (`installation`); `None`: nothing is labelled, and `held` lists nothing.
    pub installation: Option<String>,
}

impl PodmanOptions {
    /// The defaults for this project's machines, keeping state in `state_dir`.
    pub fn new(state_dir: impl Into<PathBuf>) -> Self {
        Self {
            program: PathBuf::from("podman"),
            state_dir: state_dir.into(),
            default_image: "docker.io/library/debian:bookworm".to_owned(),
            oci_runtime: "runc".to_owned(),
            ulimits: vec!["nofile=1024:1024".to_owned(), "nproc=1024:1024".to_owned()],
            insecure_registries: Vec::new(),
            stop_timeout_secs: 5,
            agent_sockets: None,
            user_namespace: true,
            allow_builds: false,
            installation: None,
        }
    }
}

/// The podman backend. See the [module docs](self).
#[derive(Debug, Clone)]
pub struct Podman {
    options: PodmanOptions,
    containers_conf: PathBuf,
    registries_conf: Option<PathBuf>,
    /// What `kept_container` just read, for the start that follows it (`persist`).
    remembered: persist::Remembered,
    /// The last walk of each storage-limited workspace's volumes (`storage`).
    walks: storage::Walks,
    /// Each workspace's turn for commands on its secret (`process`).
    secret_turns: process::Turns,
    /// The network namespaces port connections enter (`netns`).
    namespaces: netns::Namespaces,
}

/// The most bytes a container's log file holds: past it, conmon truncates the file and starts
/// it again (a workspace writing its log without end would otherwise fill the host's disk;
/// its own storage limit counts only what it writes to its filesystem).
pub const LOG_SIZE_MAX: u64 = 64 << 20;

fn engine(operation: &str, detail: impl Into<String>) -> RuntimeError {
    RuntimeError::Engine {
        operation: operation.to_owned(),
        detail: detail.into(),
    }
}

fn toml_string(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

impl Podman {
    /// Writes the configuration files into the state directory (made absolute: podman runs
    /// in other directories) and returns the backend.
    pub fn new(mut options: PodmanOptions) -> Result<Self, RuntimeError> {
        let io = |e: std::io::Error| engine("writing podman configuration", e.to_string());
        options.state_dir = std::path::absolute(&options.state_dir).map_err(io)?;
        if options.user_namespace {
            sandbox::ensure_subordinate_ids(Path::new("/etc/subuid"))?;
            sandbox::ensure_subordinate_ids(Path::new("/etc/subgid"))?;
        }
        std::fs::create_dir_all(options.state_dir.join("snapshots")).map_err(io)?;
        std::fs::create_dir_all(options.state_dir.join("build-context")).map_err(io)?;
        let hooks = egress::install_hook(&options.state_dir)?;
        let ulimits: Vec<String> = options.ulimits.iter().map(|u| toml_string(u)).collect();
        let containers_conf = options.state_dir.join("containers.conf");
        std::fs::write(
            &containers_conf,
            format!(
                "# Written by cordium; podman reads it through CONTAINERS_CONF.\n\
                 [containers]\ndefault_ulimits = [{}]\nlog_driver = \"k8s-file\"\nlog_size_max = {}\n\n\
                 [engine]\nruntime = {}\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\n\
                 hooks_dir = [{}]\n",
                ulimits.join(", "),
                LOG_SIZE_MAX,
                toml_string(&options.oci_runtime),
                toml_string(&hooks.to_string_lossy()),
            ),
        )
        .map_err(io)?;
        let registries_conf = if options.insecure_registries.is_empty() {
            None
        } else {
            let path = options.state_dir.join("registries.conf");
            let mut text = String::from(
                "# Written by cordium.\nunqualified-search-registries = [\"docker.io\"]\n",
            );
            for registry in &options.insecure_registries {
                text.push_str(&format!(
                    "\n[[registry]]\nlocation = {}\ninsecure = true\n",
                    toml_string(registry)
                ));
            }
            std::fs::write(&path, text).map_err(io)?;
            Some(path)
        };
        Ok(Self {
            options,
            containers_conf,
            registries_conf,
            remembered: persist::Remembered::default(),
            walks: storage::Walks::default(),
            secret_turns: process::Turns::default(),
            namespaces: netns::Namespaces::default(),
        })
    }

    /// The `--label` arguments every container and volume of `key` gets: its Space and name
    /// (an operator, and the tests' clean-up, find a workspace's objects by them) and the
    /// installation (`installation`).
    fn label_args(&self, key: &WorkspaceKey) -> Vec<String> {
        let mut args = vec![
            "--label".to_owned(),
            format!("cordium.space={}", key.space),
            "--label".to_owned(),
            format!("cordium.workspace={}", key.name),
        ];
        args.extend(installation::label_args(&self.options));
        args
    }

    fn volume(key: &WorkspaceKey) -> String {
        format!("{}-workspace", key.object_name())
    }

    fn home_volume(key: &WorkspaceKey) -> String {
        format!("{}-home", key.object_name())
    }

    fn secret(key: &WorkspaceKey) -> String {
        format!("{}-env", key.object_name())
    }

    fn snapshot_path(&self, snapshot: &str) -> PathBuf {
        let name = crate::runtime::object_name("snap", snapshot);
        self.options
            .state_dir
            .join("snapshots")
            .join(format!("{name}.tar"))
    }

    /// `podman container inspect --format FORMAT` of `key`'s container; `None` when there is
    /// no such container.
    async fn inspect(
        &self,
        key: &WorkspaceKey,
        format: &str,
    ) -> Result<Option<String>, RuntimeError> {
        let mut command = self.command();
        command.args([
            "container",
            "inspect",
            "--format",
            format,
            &key.object_name(),
        ]);
        let out = self.output(command, None).await?;
        if out.status.success() {
            return Ok(Some(String::from_utf8_lossy(&out.stdout).into_owned()));
        }
        let detail = last_line(&out.stderr);
        // Anything else (a locked database, say) is not evidence the container is gone.
        if detail.contains("no such container") || detail.contains("no such object") {
            Ok(None)
        } else {
            Err(engine("podman container inspect", detail))
        }
    }

    /// `podman start` of `key`'s created or stopped container. It returns once the
    /// container's process runs, so no inspect follows: a command that ends at once fails the
    /// next execution (`NotRunning`) or the health check.
    async fn start_created(&self, key: &WorkspaceKey) -> Result<(), RuntimeError> {
        self.run(&["start", &key.object_name()], None)
            .await
            .map(drop)
            .map_err(|e| RuntimeError::RunContainer {
                detail: e.to_string(),
            })
    }

    /// `podman stop` of `key`'s container, which runs its TERM handling (absent is fine).
    async fn stop_container(&self, key: &WorkspaceKey) -> Result<(), RuntimeError> {
        let timeout = self.options.stop_timeout_secs.to_string();
        self.run(
            &["stop", "--ignore", "-t", &timeout, &key.object_name()],
            None,
        )
        .await
        .map(drop)
    }

    async fn remove_container(&self, key: &WorkspaceKey) -> Result<(), RuntimeError> {
        self.remembered.forget(key);
        let name = key.object_name();
        // One `rm`: a running container gets TERM and the stop timeout first, as `podman
        // stop` gives it. The container's own cleanup (conmon's exit command) may still hold
        // its mounts: a busy mount is retried.
        let timeout = self.options.stop_timeout_secs.to_string();
        let mut tries = 0;
        loop {
            match self
                .run(&["rm", "--force", "--ignore", "-t", &timeout, &name], None)
                .await
            {
                Err(e) if tries < 10 && e.to_string().contains("resource busy") => {
                    tries += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                }
                result => return result.map(drop),
            }
        }
    }

    async fn remove_secret(&self, key: &WorkspaceKey) {
        let _ = self
            .run_to_completion(key, &["secret", "rm", &Self::secret(key)], None)
            .await;
    }
}

/// The last non-empty line of a command's stderr, which is where podman puts its error.
fn last_line(stderr: &[u8]) -> String {
    String::from_utf8_lossy(stderr)
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("no error output")
        .trim()
        .to_owned()
}

#[async_trait::async_trait]
impl Runtime for Podman {
    fn name(&self) -> &'static str {
        "podman"
    }

    fn default_image(&self) -> &str {
        &self.options.default_image
    }

    async fn pull_image(
        &self,
        _key: &WorkspaceKey,
        image: &str,
        login: Option<&Login>,
    ) -> Result<(), RuntimeError> {
        let authfile = match login {
            Some(login) => Some(self.write_login(image, login).await?),
            None => None,
        };
        let mut command = self.command();
        command.args(["pull", "--quiet"]);
        if let Some(file) = &authfile {
            command.arg("--authfile").arg(&file.0);
        }
        // `--`: an image reference is never read as a flag (validation refuses a leading `-`
        // too).
        command.arg("--").arg(image);
        let out = self.output(command, None).await;
        drop(authfile);
        let out = out?;
        if out.status.success() {
            Ok(())
        } else {
            Err(RuntimeError::ImagePull {
                image: image.to_owned(),
                detail: last_line(&out.stderr),
            })
        }
    }

    async fn build_image(
        &self,
        key: &WorkspaceKey,
        dockerfile: &str,
    ) -> Result<String, RuntimeError> {
        self.build(key, dockerfile).await
    }

    async fn start(&self, spec: &ContainerSpec) -> Result<(), RuntimeError> {
        let key = &spec.key;
        let name = key.object_name();
        check_env(&spec.env, false)?;
        let secret_file = secret_env_file(&spec.env);
        if spec.volume == VolumeSource::Reused
            && let Some((recipe, dir)) = self.kept_for_start(key).await?
            && recipe == spec.recipe
        {
            self.write_egress(key, &spec.egress).await?;
            return self.restart(key, &dir, &secret_file).await;
        }
        self.remove_container(key).await?;
        let secret = Self::secret(key);
        // Volumes, the secret and the image's user are independent: made at once.
        let new_secret = async {
            self.remove_secret(key).await;
            self.run_to_completion(
                key,
                &["secret", "create", &secret, "-"],
                Some(secret_file.clone().into_bytes()),
            )
            .await
        };
        let image = spec.image.clone();
        let (_, _, user) = tokio::try_join!(
            self.prepare_volumes(spec),
            new_secret,
            self.image_user(&image)
        )?;
        let snapshot = match (spec.volume, spec.snapshot.as_deref()) {
            (VolumeSource::FromSnapshot, Some(snapshot)) => Some(snapshot),
            (VolumeSource::FromSnapshot, None) => {
                return Err(engine("restoring a snapshot", "no snapshot named"));
            }
            _ => None,
        };

        let mut command = self.command();
        command.args(["create", "--name", &name, "--hostname", &key.name]);
        command
            .args(self.label_args(key))
            .args(persist::recipe_args(&spec.recipe))
            .args(storage::storage_args(spec))
            .args(self.write_egress(key, &spec.egress).await?)
            .arg("--runtime")
            .arg(&self.options.oci_runtime);
        for ulimit in &self.options.ulimits {
            command.arg("--ulimit").arg(ulimit);
        }
        command
            .args(sandbox::confinement_args(spec, self.options.user_namespace))
            .args(user.run_args(&Self::home_volume(key)))
            .arg("--volume")
            .arg(format!(
                "{}:{}",
                Self::volume(key),
                crate::plan::WORKSPACE_DIR
            ))
            .arg("--secret")
            .arg(format!("{secret},type=mount,target={SECRET_TARGET}"))
            .arg("--stop-timeout")
            .arg(self.options.stop_timeout_secs.to_string());
        agent::mount(&mut command, self.options.agent_sockets.as_deref(), &name);
        add_env(&mut command, &spec.env, false);
        if let Some(millis) = spec.resources.cpu_millis {
            command
                .arg("--cpus")
                .arg(format!("{}.{:03}", millis / 1000, millis % 1000));
        }
        if let Some(mib) = spec.resources.memory_mib {
            command.arg("--memory").arg(format!("{mib}m"));
        }
        // `spec.ports` are not published on the host: Cordium reaches them through the
        // container's network namespace (`stream::connect`), behind its own authentication.
        // A published port would let any local process past it, and rootful netavark keeps
        // a DNAT rule per port that reserves no socket (the kernel could give the port to
        // another listener, cutting it off) and can outlive its container.
        command
            .args(["--entrypoint", "/bin/sh", &image, "-c"])
            .arg(main_script(spec));
        let out = self.output(command, None).await?;
        // The container holds its own copy of the secret from its create on (rewritten at
        // every start, blanked at stop): podman's store, a plain file on the host, keeps none.
        self.remove_secret(key).await;
        if !out.status.success() {
            return Err(RuntimeError::RunContainer {
                detail: last_line(&out.stderr),
            });
        }
        if spec.volume == VolumeSource::Reused {
            // Kept volumes' owners move into the new namespace before anything runs in it.
            let kept = [Self::volume(key), Self::home_volume(key)];
            self.adopt_volumes(key, &kept).await?;
            self.start_created(key).await?;
        } else {
            // New volumes: only the namespace is recorded, while the container starts.
            tokio::try_join!(self.adopt_volumes(key, &[]), self.start_created(key))?;
        }
        let mut setup = ExecSpec::captured(user.setup_script());
        setup.as_root = true;
        self.exec(key, &setup).await?;
        if let Some(snapshot) = snapshot {
            self.restore_snapshot(key, snapshot).await?;
        }
        Ok(())
    }

    async fn kept_container(&self, key: &WorkspaceKey) -> Result<KeptContainer, RuntimeError> {
        self.kept(key).await
    }

    async fn state(&self, key: &WorkspaceKey) -> Result<ContainerState, RuntimeError> {
        self.read_state(key).await
    }

    async fn states(&self, keys: &[WorkspaceKey]) -> Vec<Result<ContainerState, RuntimeError>> {
        self.read_states(keys).await
    }

    async fn exec(&self, key: &WorkspaceKey, exec: &ExecSpec) -> Result<ExecOutput, RuntimeError> {
        let name = key.object_name();
        check_env(&exec.env, true)?;
        let mut command = self.command();
        command.arg("exec");
        command.args(ProcessUser::of(exec.as_root).exec_args());
        if let Some(dir) = &exec.working_dir {
            // One argument: a value never reads as a flag.
            command.arg(format!("--workdir={dir}"));
        }
        add_env(&mut command, &exec.env, true);
        let mut script = String::from(PRELUDE);
        script.push_str("; ");
        if exec.to_log {
            script.push_str(TO_LOG);
            script.push_str("; ");
        }
        if exec.working_dir.is_none() {
            script.push_str("cd \"${HOME:-/}\" 2>/dev/null; ");
        }
        script.push_str(&exec.script);
        command.args([&name, "/bin/sh", "-c", &script]);
        if exec.detach {
            // An attached execution waited for by a task of its own, not `podman exec
            // --detach`: a detached one could end without a trace (a clone's background
            // unshallow now and then never finished, with nothing in the workspace's log),
            // while the task sees how it ended and says so.
            let this = self.clone();
            let workspace = key.name.clone();
            tokio::spawn(async move {
                match this.captured(command).await {
                    Ok(out) if out.status.success() => {}
                    Ok(out) => tracing::warn!(
                        %workspace,
                        code = ?out.status.code(),
                        "a background command failed: {}",
                        last_line(&out.stderr)
                    ),
                    Err(e) => tracing::warn!(%workspace, "a background command did not run: {e}"),
                }
            });
            return Ok(ExecOutput::default());
        }
        let out = self.captured(command).await?;
        let code = out.status.code().unwrap_or(-1);
        // 125: podman itself failed (no such container); 255: also a stopped (kept)
        // container, or the command's own exit code.
        if code == 125 || code == 255 {
            if self.state(key).await? != ContainerState::Running {
                return Err(RuntimeError::NotRunning { name });
            }
            if code == 125 {
                return Err(engine("podman exec", last_line(&out.stderr)));
            }
        }
        Ok(ExecOutput {
            exit_code: code,
            stdout: out.stdout,
            stderr: out.stderr,
        })
    }

    async fn stop(
        &self,
        key: &WorkspaceKey,
        volume: VolumeOnStop,
        snapshot: Option<&str>,
    ) -> Result<(), RuntimeError> {
        let saved = match (volume, snapshot) {
            (VolumeOnStop::Keep, _) => return self.stop_and_keep(key).await,
            (VolumeOnStop::Snapshot, Some(snapshot)) => self.save_snapshot(key, snapshot).await,
            _ => Ok(()),
        };
        // Removed even when the snapshot failed: a build's container never runs on.
        self.delete(key).await?;
        saved
    }

    async fn held(&self) -> Result<Vec<WorkspaceKey>, RuntimeError> {
        Podman::held(self).await
    }

    async fn delete(&self, key: &WorkspaceKey) -> Result<(), RuntimeError> {
        self.remove_container(key).await?;
        self.remove_secret(key).await;
        self.remove_volumes(key).await?;
        self.forget_namespace(key).await;
        self.forget_egress(key).await;
        self.secret_turns.forget(key);
        Ok(())
    }

    async fn snapshot_exists(&self, snapshot: &str) -> Result<bool, RuntimeError> {
        Ok(tokio::fs::try_exists(self.snapshot_path(snapshot))
            .await
            .unwrap_or(false))
    }

    async fn remove_space_volumes(&self, space: &str) -> Result<(), RuntimeError> {
        self.remove_space_volumes_of(space).await
    }

    async fn delete_snapshot(&self, snapshot: &str) -> Result<(), RuntimeError> {
        self.remove_snapshot_root(snapshot).await;
        match tokio::fs::remove_file(self.snapshot_path(snapshot)).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(engine("removing a snapshot", e.to_string())),
        }
    }

    async fn logs(&self, key: &WorkspaceKey, follow: bool) -> Result<OutputStream, RuntimeError> {
        let name = key.object_name();
        if self.state(key).await? == ContainerState::Absent {
            return Err(RuntimeError::NotRunning { name });
        }
        let mut command = self.command();
        command.arg("logs");
        if follow {
            command.arg("--follow");
        }
        // podman logs replays the container's stdout and stderr on its own two: both are
        // the workspace's log, merged in the order they arrive.
        command.arg(&name);
        let mut child = command
            .spawn()
            .map_err(|e| engine("podman logs", e.to_string()))?;
        let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
            return Err(engine("podman logs", "no output pipes"));
        };
        let (tx, rx) = tokio::sync::mpsc::channel(16);
        for pipe in [
            Box::new(stdout) as Box<dyn tokio::io::AsyncRead + Send + Unpin>,
            Box::new(stderr),
        ] {
            tokio::spawn(stream::forward(pipe, tx.clone()));
        }
        tokio::spawn(async move {
            // Ends (killing podman logs, which is kill_on_drop) once the reader goes away,
            // even while a quiet container writes nothing.
            tokio::select! {
                _ = child.wait() => {}
                () = tx.closed() => {}
            }
        });
        Ok(Box::pin(tokio_stream::wrappers::ReceiverStream::new(rx)))
    }

    async fn stream(
        &self,
        key: &WorkspaceKey,
        spec: &StreamSpec,
    ) -> Result<ProcessStream, RuntimeError> {
        stream::stream(self, key, spec).await
    }

    async fn connect(&self, key: &WorkspaceKey, port: u16) -> Result<PortStream, RuntimeError> {
        stream::connect(self, key, port).await
    }
}
