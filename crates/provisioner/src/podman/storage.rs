//! The storage limit, enforced by measurement.
//!
//! podman can cap a volume's size only on XFS with project quotas (and a container's writable
//! layer only with overlay on XFS); this machine's storage is ext4, so the limit is enforced
//! by a check instead: a container with a storage limit is labelled `cordium.storage-mib`, and
//! whenever its state is read (the driver's health check does so every few seconds) the
//! bytes its volumes (`/workspace` and HOME) hold are counted on the host. A workspace past
//! its limit is reported failed, with the figures, and the driver stops it with a
//! health-check failure. Writes are not refused: a workspace may overshoot its limit until
//! the next check.

use super::Podman;
use crate::runtime::{ContainerSpec, WorkspaceKey};
use std::path::{Path, PathBuf};

/// The label holding a container's storage limit, in MiB.
const LABEL: &str = "cordium.storage-mib";

/// The `podman container inspect` format [`Podman::state`](super::Podman) reads: status, exit
/// code, the storage limit (`<no value>` without one), then `NAME=SOURCE` of each volume.
pub(super) const STATE_FORMAT: &str = "{{.State.Status}} {{.State.ExitCode}} {{index .Config.Labels \"cordium.storage-mib\"}} {{range .Mounts}}{{if .Name}}{{.Name}}={{.Source}} {{end}}{{end}}";

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
        let own = [Self::volume(key), Self::home_volume(key)];
        let paths: Vec<PathBuf> = rest
            .filter_map(|mount| mount.split_once('='))
            .filter(|(name, _)| own.iter().any(|o| o == name))
            .map(|(_, source)| PathBuf::from(source))
            .collect();
        let used =
            tokio::task::spawn_blocking(move || paths.iter().map(|p| used_bytes(p)).sum::<u64>())
                .await
                .ok()?;
        let used_mib = used.div_ceil(1024 * 1024);
        (used_mib > limit).then(|| {
            format!(
                "the storage limit is exceeded: /workspace and HOME hold {used_mib} MiB of {limit} MiB"
            )
        })
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
    fn used_bytes_counts_allocated_blocks() {
        let dir = std::env::temp_dir().join(format!("cordium-storage-{}", std::process::id()));
        let _ = std::fs::create_dir_all(dir.join("sub"));
        let _ = std::fs::write(dir.join("sub/a"), vec![1_u8; 3 * 1024 * 1024]);
        let used = used_bytes(&dir);
        let _ = std::fs::remove_dir_all(&dir);
        assert!(used >= 3 * 1024 * 1024, "{used}");
    }
}
