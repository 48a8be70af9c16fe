//! Persistent means persistent: a persistent workspace keeps its container across stop and
//! start, and pre-builds keep the build's whole filesystem.
//!
//! - **Kept containers.** A stop with [`VolumeOnStop::Keep`](crate::plan::VolumeOnStop)
//!   only stops the container (`podman stop`); the next start of the same recipe (labels
//!   `cordium.recipe.image` and `cordium.recipe.settings`, [`Recipe`]) starts it again
//!   (`podman start`), its whole filesystem as it was. The secret environment file is the
//!   one thing that changes between runs (the session credential is new every run): podman
//!   copies a mounted secret into the container's own directory when the container is
//!   created, so a restart rewrites that copy (`<StaticDir>/secrets/N-env`) before it
//!   starts, and a stop blanks it.
//! - **Restarts are lean.** A kept container's start is one `podman start` (the egress
//!   rules and the secret copy are files the backend writes itself): the inspect that
//!   `kept_container` made for the driver a moment before is remembered for the start that
//!   follows (at most [`REMEMBERED_FOR`]) rather than repeated, and a successful `podman start`
//!   is not followed by an inspect (it returns once the container's process runs; one that
//!   ends at once fails the next execution or the health check).
//! - **Pre-build snapshots.** A build's stop writes two tarballs, both made inside the
//!   container by container root so ownership is recorded as the container sees it (uid
//!   1000), not as the build's user namespace maps it on the host (`podman commit` keeps the
//!   host ids, which no other namespace maps): the volumes (`/workspace` and HOME), and every
//!   path the build added or changed in the root filesystem (`podman diff`, archived without
//!   recursion). A workspace restored from it runs the Template's image and extracts both,
//!   again inside its own container. Files the build deleted from the image are not deleted
//!   again.

use super::{Podman, engine, last_line};
use crate::plan::VolumeSource;
use crate::runtime::{ContainerSpec, KeptContainer, Recipe, RuntimeError, WorkspaceKey};
use std::path::PathBuf;
use std::process::Stdio;

/// The label on a Space Volume naming its Space.
pub(super) const SPACE_VOLUME_LABEL: &str = "cordium.space-volume";

/// How long a `kept_container` answer stands in for the inspect of the start that follows.
const REMEMBERED_FOR: std::time::Duration = std::time::Duration::from_secs(10);

/// The bound of a build's snapshot, in MiB, when its container has no storage limit.
const DEFAULT_SNAPSHOT_MIB: u64 = 20_000;

/// How long writing a build's snapshot may take.
const SNAPSHOT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30 * 60);

/// Kept containers' recipes and directories as `kept_container` read them, by object name,
/// each taken by the next start (or dropped once older than [`REMEMBERED_FOR`]).
#[derive(Debug, Clone, Default)]
pub(super) struct Remembered(std::sync::Arc<std::sync::Mutex<RememberedMap>>);

/// A kept container's recipe, its directory and when they were read, by object name.
type RememberedMap = std::collections::HashMap<String, (Recipe, String, std::time::Instant)>;

impl Remembered {
    fn put(&self, key: &WorkspaceKey, recipe: &Recipe, dir: &str) {
        if let Ok(mut map) = self.0.lock() {
            map.retain(|_, (_, _, at)| at.elapsed() < REMEMBERED_FOR);
            map.insert(
                key.object_name(),
                (recipe.clone(), dir.to_owned(), std::time::Instant::now()),
            );
        }
    }

    /// Forgets what was read of `key`'s container (it is being removed): a start cut short
    /// after `kept_container` would otherwise leave an answer that the next start, within
    /// [`REMEMBERED_FOR`], takes for a container that is gone.
    pub(super) fn forget(&self, key: &WorkspaceKey) {
        let _ = self.take(key);
    }

    fn take(&self, key: &WorkspaceKey) -> Option<(Recipe, String)> {
        let (recipe, dir, at) = self.0.lock().ok()?.remove(&key.object_name())?;
        (at.elapsed() < REMEMBERED_FOR).then_some((recipe, dir))
    }
}

/// The labels holding a container's [`Recipe`].
const IMAGE_LABEL: &str = "cordium.recipe.image";
const SETTINGS_LABEL: &str = "cordium.recipe.settings";
/// What a kept container's secret copy holds while it is stopped.
const BLANK_SECRET: &str = "# cordium: the workspace is stopped\n";

/// The `podman run` arguments labelling a container with `recipe`.
pub(super) fn recipe_args(recipe: &Recipe) -> [String; 4] {
    [
        "--label".to_owned(),
        format!("{IMAGE_LABEL}={}", recipe.image),
        "--label".to_owned(),
        format!("{SETTINGS_LABEL}={}", recipe.settings),
    ]
}

impl Podman {
    pub(super) async fn volume_exists(&self, volume: &str) -> Result<bool, RuntimeError> {
        let mut command = self.command();
        command.args(["volume", "exists", volume]);
        let out = self.output(command, None).await?;
        Ok(out.status.success())
    }

    /// Makes the workspace's volumes (`/workspace` and HOME) as `spec.volume` says; a
    /// snapshot's content is extracted once the container runs ([`Podman::restore_snapshot`]).
    pub(super) async fn prepare_volumes(&self, spec: &ContainerSpec) -> Result<(), RuntimeError> {
        let prepare = |volume: String| async move {
            match spec.volume {
                VolumeSource::Reused if self.volume_exists(&volume).await? => return Ok(()),
                VolumeSource::Reused => {}
                VolumeSource::New | VolumeSource::FromSnapshot => {
                    self.run(&["volume", "rm", "--force", &volume], None)
                        .await?;
                }
            }
            // Labelled like the container.
            self.create_volume(&volume, self.label_args(&spec.key))
                .await
        };
        tokio::try_join!(
            prepare(Self::volume(&spec.key)),
            prepare(Self::home_volume(&spec.key)),
            self.make_space_volumes(spec),
        )
        .map(drop)
    }

    /// Makes the Space Volumes `spec` mounts that do not exist yet, labelled with their Space
    /// ([`SPACE_VOLUME_LABEL`]) so that [`Podman::remove_space_volumes_of`] finds them once
    /// the Space is gone (podman would make them unlabelled at the container's create).
    async fn make_space_volumes(&self, spec: &ContainerSpec) -> Result<(), RuntimeError> {
        for mount in &spec.mounts {
            let volume = super::sandbox::space_volume(&spec.key, &mount.volume);
            if self.volume_exists(&volume).await? {
                continue;
            }
            let mut labels = vec![
                "--label".to_owned(),
                format!("{SPACE_VOLUME_LABEL}={}", spec.key.space),
            ];
            labels.extend(super::installation::label_args(&self.options));
            // Another start in the Space may have made it meanwhile.
            if let Err(e) = self.create_volume(&volume, labels).await
                && !self.volume_exists(&volume).await?
            {
                return Err(e);
            }
        }
        Ok(())
    }

    /// `podman volume create` of `volume` with `labels` (`--label`, `KEY=VALUE` pairs).
    async fn create_volume(&self, volume: &str, labels: Vec<String>) -> Result<(), RuntimeError> {
        let mut args = vec!["volume", "create"];
        args.extend(labels.iter().map(String::as_str));
        args.push(volume);
        self.run(&args, None).await.map(drop)
    }

    /// Removes every Space Volume labelled with Space `space`, with whatever still uses it
    /// (only the deleted Space's own workspaces can).
    pub(super) async fn remove_space_volumes_of(&self, space: &str) -> Result<(), RuntimeError> {
        // podman reads `label=KEY=` (no value) as "any value": every Space's volumes.
        if space.is_empty() {
            return Ok(());
        }
        let filter = format!("label={SPACE_VOLUME_LABEL}={space}");
        let listed = self
            .list(&["volume", "ls", "--filter", &filter, "--format", "{{.Name}}"])
            .await?;
        let names: Vec<&str> = listed.lines().filter(|name| !name.is_empty()).collect();
        if names.is_empty() {
            return Ok(());
        }
        let mut args = vec!["volume", "rm", "--force"];
        args.extend(names);
        self.run(&args, None).await.map(drop)
    }

    pub(super) async fn remove_volumes(&self, key: &WorkspaceKey) -> Result<(), RuntimeError> {
        for volume in [Self::volume(key), Self::home_volume(key)] {
            self.run(&["volume", "rm", "--force", &volume], None)
                .await?;
        }
        Ok(())
    }

    /// What is left of `key`'s container: see [`crate::runtime::Runtime::kept_container`].
    pub(super) async fn kept(&self, key: &WorkspaceKey) -> Result<KeptContainer, RuntimeError> {
        Ok(match self.kept_in(key).await? {
            Some((recipe, dir)) => {
                self.remembered.put(key, &recipe, &dir);
                KeptContainer::Present(recipe)
            }
            None => KeptContainer::Gone,
        })
    }

    /// The kept container's recipe and directory for a start: what `kept_container` just
    /// read, else a new inspect.
    pub(super) async fn kept_for_start(
        &self,
        key: &WorkspaceKey,
    ) -> Result<Option<(Recipe, String)>, RuntimeError> {
        match self.remembered.take(key) {
            Some(kept) => Ok(Some(kept)),
            None => self.kept_in(key).await,
        }
    }

    /// The kept container's recipe and its own directory (`StaticDir`), in one inspect.
    pub(super) async fn kept_in(
        &self,
        key: &WorkspaceKey,
    ) -> Result<Option<(Recipe, String)>, RuntimeError> {
        let format = format!(
            "{{{{index .Config.Labels \"{IMAGE_LABEL}\"}}}} {{{{index .Config.Labels \"{SETTINGS_LABEL}\"}}}} {{{{.StaticDir}}}}"
        );
        let Some(text) = self.inspect(key, &format).await? else {
            return Ok(None);
        };
        let mut words = text.split_whitespace();
        let mut word = || words.next().unwrap_or_default().to_owned();
        let recipe = Recipe {
            image: word(),
            settings: word(),
        };
        Ok(Some((recipe, word())))
    }

    /// Starts `key`'s kept container (whose directory is `dir`) again with `secret_file` as
    /// its secret environment. (One already running is left running.)
    pub(super) async fn restart(
        &self,
        key: &WorkspaceKey,
        dir: &str,
        secret_file: &str,
    ) -> Result<(), RuntimeError> {
        self.write_secret_copy(key, Some(dir), secret_file).await?;
        self.start_created(key).await
    }

    /// Stops `key`'s container and keeps it, its secret copy blanked.
    pub(super) async fn stop_and_keep(&self, key: &WorkspaceKey) -> Result<(), RuntimeError> {
        self.stop_container(key).await?;
        match self.write_secret_copy(key, None, BLANK_SECRET).await {
            Ok(()) | Err(RuntimeError::NotRunning { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Replaces the copy of the secret environment file in the container's directory `dir`
    /// (inspected when `None`), with the same owner, mode 0444.
    async fn write_secret_copy(
        &self,
        key: &WorkspaceKey,
        dir: Option<&str>,
        text: &str,
    ) -> Result<(), RuntimeError> {
        let dir = match dir {
            Some(dir) => dir.to_owned(),
            None => self.inspect(key, "{{.StaticDir}}").await?.ok_or_else(|| {
                RuntimeError::NotRunning {
                    name: key.object_name(),
                }
            })?,
        };
        // podman names the copy after the secret, not its target.
        let secret = Self::secret(key);
        let dir = PathBuf::from(dir.trim()).join("secrets");
        let path = dir.join(&secret);
        let io = |e: std::io::Error| engine("writing the secret environment", e.to_string());
        let meta = tokio::fs::metadata(&path).await.map_err(io)?;
        let tmp = dir.join(format!(".{secret}.tmp"));
        tokio::fs::write(&tmp, text).await.map_err(io)?;
        {
            use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
            std::os::unix::fs::chown(&tmp, Some(meta.uid()), Some(meta.gid())).map_err(io)?;
            tokio::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o444))
                .await
                .map_err(io)?;
        }
        tokio::fs::rename(&tmp, &path).await.map_err(io)
    }

    /// Writes the snapshot `snapshot` of `key`'s running container: `/workspace` and HOME
    /// (the container's, the workspace user's) as one tarball, and every file and directory
    /// the run added or changed elsewhere (`podman diff`) as another, both made inside the
    /// container by container root. The two hold at most the container's storage limit
    /// together ([`DEFAULT_SNAPSHOT_MIB`] without one), and take at most
    /// [`SNAPSHOT_TIMEOUT`]: they are written by the build's own programs, which a hostile
    /// Template controls.
    pub(super) async fn save_snapshot(
        &self,
        key: &WorkspaceKey,
        snapshot: &str,
    ) -> Result<(), RuntimeError> {
        let name = key.object_name();
        let diff = self.run(&["diff", &name], None).await?;
        let mut changed = String::new();
        for line in diff.lines() {
            if let Some(path) = line
                .strip_prefix("A /")
                .or_else(|| line.strip_prefix("C /"))
                .filter(|p| !p.is_empty() && !p.contains('\n'))
            {
                changed.push_str(path);
                changed.push('\n');
            }
        }
        let limit_mib = self
            .inspect(key, "{{index .Config.Labels \"cordium.storage-mib\"}}")
            .await?
            .and_then(|label| label.trim().parse::<u64>().ok())
            .unwrap_or(DEFAULT_SNAPSHOT_MIB);
        let mut budget = limit_mib << 20;
        let path = self.snapshot_path(snapshot);
        let parts = [
            (
                path.with_extension("root.tar"),
                ROOT_TAR,
                Some(changed.as_bytes()),
            ),
            (path.clone(), VOLUMES_TAR, None),
        ];
        for (target, script, stdin) in parts {
            let tmp = target.with_extension("partial");
            let written = self.save_part(&name, &tmp, script, stdin, budget).await;
            let renamed = match written {
                Ok(written) => {
                    budget -= written;
                    tokio::fs::rename(&tmp, &target)
                        .await
                        .map_err(|e| engine("writing the snapshot", e.to_string()))
                }
                Err(e) => Err(e),
            };
            if let Err(e) = renamed {
                // Nothing of a failed snapshot stays: neither this part nor one written before.
                let _ = tokio::fs::remove_file(&tmp).await;
                self.remove_snapshot_root(snapshot).await;
                return Err(e);
            }
        }
        Ok(())
    }

    /// Writes one part of a snapshot to `tmp` with `script` run in container `name`, at most
    /// `budget` bytes within [`SNAPSHOT_TIMEOUT`]; returns how many bytes it wrote.
    async fn save_part(
        &self,
        name: &str,
        tmp: &std::path::Path,
        script: &str,
        stdin: Option<&[u8]>,
        budget: u64,
    ) -> Result<u64, RuntimeError> {
        let io = |e: std::io::Error| engine("writing the snapshot", e.to_string());
        let file = tokio::fs::File::create(tmp).await.map_err(io)?;
        let mut command = self.command();
        command.arg("exec");
        if stdin.is_some() {
            command.arg("--interactive");
        }
        command.args(["--user", "0:0", name, "/bin/sh", "-c", script]);
        let archived = tokio::time::timeout(
            SNAPSHOT_TIMEOUT,
            self.output_to_file(command, stdin, file, budget),
        )
        .await
        .unwrap_or_else(|_| {
            Err(engine(
                "archiving the build",
                format!(
                    "it took more than {} minutes",
                    SNAPSHOT_TIMEOUT.as_secs() / 60
                ),
            ))
        });
        match archived {
            Ok((status, _, written)) if status.success() => Ok(written),
            Ok((_, stderr, _)) => Err(engine("archiving the build", last_line(&stderr))),
            Err(RuntimeError::Engine { detail, .. }) => Err(engine("archiving the build", detail)),
            Err(e) => Err(e),
        }
    }

    /// Extracts the snapshot's tarballs (the root filesystem's changes, then the volumes)
    /// into `key`'s new container, as container root.
    pub(super) async fn restore_snapshot(
        &self,
        key: &WorkspaceKey,
        snapshot: &str,
    ) -> Result<(), RuntimeError> {
        let path = self.snapshot_path(snapshot);
        for part in [path.with_extension("root.tar"), path] {
            let file = match std::fs::File::open(&part) {
                Ok(file) => file,
                // Snapshots written before root filesystems were kept have volumes only.
                Err(e)
                    if e.kind() == std::io::ErrorKind::NotFound
                        && part != self.snapshot_path(snapshot) =>
                {
                    continue;
                }
                Err(e) => {
                    return Err(engine(
                        "restoring a snapshot",
                        format!("{}: {e}", part.display()),
                    ));
                }
            };
            let mut command = self.command();
            command
                .args(["exec", "--interactive", "--user", "0:0", &key.object_name()])
                .args(["tar", "-C", "/", "-xpf", "-"])
                .stdin(Stdio::from(file));
            let out = self.output(command, None).await?;
            if !out.status.success() {
                return Err(engine("restoring a snapshot", last_line(&out.stderr)));
            }
        }
        Ok(())
    }

    /// Removes the snapshot's root filesystem part (absent is fine).
    pub(super) async fn remove_snapshot_root(&self, snapshot: &str) {
        let _ =
            tokio::fs::remove_file(self.snapshot_path(snapshot).with_extension("root.tar")).await;
    }
}

/// Archives `/workspace` and HOME (recursively).
const VOLUMES_TAR: &str = "exec tar -C / -cf - workspace \"${HOME#/}\"";
/// Archives the paths on standard input (one per line, relative to `/`, not recursively),
/// except what is not the image's own filesystem (the volumes, kernel file systems, `/run`
/// and `/tmp`) and what container root cannot read (files podman itself made for the
/// container, owned by ids outside its namespace).
const ROOT_TAR: &str = "set --; while IFS= read -r p; do \
     case \"/$p\" in /workspace|/workspace/*|\"$HOME\"|\"$HOME\"/*|/proc|/proc/*|/sys|/sys/*|\
     /dev|/dev/*|/run|/run/*|/tmp|/tmp/*) continue;; esac; \
     if [ -L \"/$p\" ] || ( : < \"/$p\" ) 2>/dev/null; then set -- \"$@\" \"$p\"; fi; done; \
     [ $# -gt 0 ] || set -- .; exec tar -C / --no-recursion -cf - \"$@\"";
