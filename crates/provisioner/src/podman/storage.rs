//! The storage limit, enforced by measurement.
//!
//! podman can cap a volume's size only on XFS with project quotas (and a container's writable
//! layer only with overlay on XFS); this machine's storage is ext4, so the limit is enforced
//! by a check instead: a container with a storage limit is labelled `cordium.storage-mib`, and
//! whenever its state is read (the driver's health check does so every few seconds) the
//! bytes its volumes (`/workspace` and HOME), the Space Volumes it mounts and its writable
//! layer (what it wrote anywhere else, `/tmp` included) hold are counted on the host. A Space
//! Volume counts whole against every workspace that mounts it (who wrote what in a shared
//! folder is not known), so a Space Volume is bounded by the smallest limit among the
//! workspaces using it; uncounted, one workspace filled the host's disk through one. A workspace past
//! its limit is reported failed, with the figures, and the driver stops it with a
//! health-check failure. Writes are not refused: a workspace may overshoot its limit until
//! the next check.
//!
//! A walk costs time in the number of files, so walks are paced ([`Walks`]): a workspace's
//! volumes are walked again only after ten times as long as their last walk took. A workspace
//! of a few thousand files is measured at every check; one of millions, whose walk takes
//! seconds, every minute or so, and the server spends at most about a tenth of a core on it.

use super::Podman;
use crate::runtime::{ContainerSpec, SPACE_VOLUME_PREFIX, WorkspaceKey};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The label holding a container's storage limit, in MiB.
const LABEL: &str = "cordium.storage-mib";

/// The `podman container inspect` format [`Podman::state`](super::Podman) reads: status, exit
/// code, the storage limit (`<no value>` without one), then `NAME=SOURCE` of each volume, and
/// `ROOT=DIR` of the container's writable layer (overlay's upper directory, when podman's
/// storage is overlay).
pub(super) const STATE_FORMAT: &str = "{{.State.Status}} {{.State.ExitCode}} {{index .Config.Labels \"cordium.storage-mib\"}} {{range .Mounts}}{{if .Name}}{{.Name}}={{.Source}} {{end}}{{end}}{{with index .GraphDriver.Data \"UpperDir\"}}ROOT={{.}}{{end}}";

/// The name [`STATE_FORMAT`] gives the writable layer (a volume's name never is upper case).
const ROOT_LAYER: &str = "ROOT";

/// The `podman run` arguments recording `spec`'s storage limit.
pub(super) fn storage_args(spec: &ContainerSpec) -> Vec<String> {
    spec.resources
        .storage_mib
        .map(|mib| vec!["--label".to_owned(), format!("{LABEL}={mib}")])
        .unwrap_or_default()
}

impl Podman {
    /// Why `key`'s running container is past its storage limit, if it is; `rest` is what
    /// follows the status and exit code in a [`STATE_FORMAT`] answer.
    pub(super) async fn over_storage_limit<'a>(
        &self,
        key: &WorkspaceKey,
        mut rest: impl Iterator<Item = &'a str>,
    ) -> Option<String> {
        let limit: u64 = rest.next()?.parse().ok()?;
        let own = [
            Self::volume(key),
            Self::home_volume(key),
            ROOT_LAYER.to_owned(),
        ];
        let paths: Vec<PathBuf> = rest
            .filter_map(|mount| mount.split_once('='))
            .filter(|(name, _)| {
                own.iter().any(|o| o == name) || name.starts_with(SPACE_VOLUME_PREFIX)
            })
            .map(|(_, source)| PathBuf::from(source))
            .collect();
        let used = match self.walks.recent(key) {
            Some(used) => used,
            None => {
                let walks = self.walks.clone();
                let name = key.object_name();
                tokio::task::spawn_blocking(move || {
                    let start = Instant::now();
                    let used = paths.iter().map(|p| used_bytes(p)).sum::<u64>();
                    walks.record(name, start, start.elapsed(), used);
                    used
                })
                .await
                .ok()?
            }
        };
        let used_mib = used.div_ceil(1024 * 1024);
        (used_mib > limit).then(|| {
            format!(
                "the storage limit is exceeded: /workspace, HOME, the Space Volumes mounted and the root filesystem's changes hold {used_mib} MiB of {limit} MiB"
            )
        })
    }
}

/// The last walk of each workspace's volumes: when it began, what it took, what it counted.
/// Shared by clones of the backend; at most [`Walks::MAX_ENTRIES`] entries, then it starts
/// over empty (entries of removed workspaces are never read again).
#[derive(Debug, Clone, Default)]
pub(super) struct Walks(Arc<Mutex<HashMap<String, Walked>>>);

#[derive(Debug, Clone, Copy)]
struct Walked {
    began: Instant,
    took: Duration,
    used: u64,
}

impl Walks {
    const MAX_ENTRIES: usize = 10_000;
    /// How many times its duration a walk waits before the next walk of the same volumes.
    const PACE: u32 = 10;

    /// The bytes `key`'s last walk counted, while its pause lasts; `None` when a new walk is
    /// due.
    fn recent(&self, key: &WorkspaceKey) -> Option<u64> {
        let walks = self.0.lock().ok()?;
        let last = walks.get(&key.object_name())?;
        (last.began.elapsed() < last.took * Self::PACE).then_some(last.used)
    }

    fn record(&self, name: String, began: Instant, took: Duration, used: u64) {
        let Ok(mut walks) = self.0.lock() else {
            return;
        };
        if walks.len() >= Self::MAX_ENTRIES {
            walks.clear();
        }
        walks.insert(name, Walked { began, took, used });
    }
}

/// The bytes of disk the files under `root` take (their allocated blocks; symbolic links are
/// not followed; what cannot be read counts nothing).
fn used_bytes(root: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt as _;
    let mut total = 0;
    let mut stack = vec![root.to_path_buf()];
    while let Some(path) = stack.pop() {
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        total += meta.blocks() * 512;
        if meta.is_dir()
            && let Ok(entries) = std::fs::read_dir(&path)
        {
            stack.extend(entries.flatten().map(|e| e.path()));
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_walk_is_reused_for_ten_times_its_duration() {
        let walks = Walks::default();
        let key = WorkspaceKey::new("default.alice", "x7k");
        assert_eq!(walks.recent(&key), None, "never walked");
        // A walk that took 10 s, begun now: its count stands for the next 100 s.
        let ten = Duration::from_secs(10);
        walks.record(key.object_name(), Instant::now(), ten, 42);
        assert_eq!(walks.recent(&key), Some(42));
        // A walk that took no time is due again at once.
        walks.record(key.object_name(), Instant::now(), Duration::ZERO, 7);
        assert_eq!(walks.recent(&key), None);
    }

    #[test]
    fn used_bytes_counts_allocated_blocks() {
        let dir = std::env::temp_dir().join(format!("cordium-storage-{}", std::process::id()));
        let _ = std::fs::create_dir_all(dir.join("sub"));
        let _ = std::fs::write(dir.join("sub/a"), vec![1_u8; 3 * 1024 * 1024]);
        let used = used_bytes(&dir);
        let _ = std::fs::remove_dir_all(&dir);
        assert!(used >= 3 * 1024 * 1024, "{used}");
    }
}
