//! Kept volumes across user namespaces.
//!
//! With `--userns=auto`, a file a container writes to a volume is owned on the host by the
//! id its namespace maps it to. A container re-created on kept volumes (the old one is gone,
//! or its image or settings changed) gets another namespace, in which those ids are nobody's.
//! So the backend records the namespace each container of a workspace got
//! (`<state>/userns/N`), and before a container on kept volumes starts, shifts the volumes'
//! owners from the recorded namespace to the new one (on the host, as root, never following
//! symbolic links).

use super::{Podman, engine};
use crate::runtime::{RuntimeError, WorkspaceKey};
use std::path::{Path, PathBuf};

/// The ids each container's namespace spans (`--userns=auto:size=65536`).
const RANGE: u32 = 65_536;

/// `id` moved from the namespace at `old` to the one at `new`; `None` when outside `old`'s.
pub(super) fn shift_id(id: u32, old: u32, new: u32) -> Option<u32> {
    (id >= old && id - old < RANGE).then(|| id - old + new)
}

/// The host uid of container root in a `{{json .HostConfig.IDMappings.UIDMap}}` answer,
/// e.g. `["0:2147483647:65536"]`.
pub(super) fn parse_base(json: &str) -> Option<u32> {
    let first = json.trim().trim_start_matches('[').split(',').next()?;
    let mut parts = first.trim().trim_matches('"').split(':');
    (parts.next()? == "0").then_some(())?;
    parts.next()?.parse().ok()
}

impl Podman {
    fn base_file(&self, key: &WorkspaceKey) -> PathBuf {
        self.options
            .state_dir
            .join("userns")
            .join(key.object_name())
    }

    /// Records the namespace of `key`'s new container and, when `kept_volumes` were written
    /// in another one, shifts their owners into it.
    pub(super) async fn adopt_volumes(
        &self,
        key: &WorkspaceKey,
        kept_volumes: &[String],
    ) -> Result<(), RuntimeError> {
        let io = |e: std::io::Error| engine("shifting volume owners", e.to_string());
        let mapping = self
            .run(
                &[
                    "container",
                    "inspect",
                    "--format",
                    "{{json .HostConfig.IDMappings.UIDMap}}",
                    &key.object_name(),
                ],
                None,
            )
            .await?;
        let Some(new) = parse_base(&mapping) else {
            return Ok(());
        };
        let file = self.base_file(key);
        let old = tokio::fs::read_to_string(&file)
            .await
            .ok()
            .and_then(|t| t.trim().parse::<u32>().ok());
        if let Some(old) = old.filter(|old| *old != new) {
            for volume in kept_volumes {
                let path = self
                    .run(
                        &["volume", "inspect", "--format", "{{.Mountpoint}}", volume],
                        None,
                    )
                    .await?;
                let path = PathBuf::from(path.trim());
                tokio::task::spawn_blocking(move || shift_tree(&path, old, new))
                    .await
                    .map_err(|e| engine("shifting volume owners", e.to_string()))?
                    .map_err(io)?;
            }
        }
        if let Some(dir) = file.parent() {
            tokio::fs::create_dir_all(dir).await.map_err(io)?;
        }
        tokio::fs::write(&file, new.to_string()).await.map_err(io)
    }

    /// Forgets `key`'s recorded namespace (its volumes are gone).
    pub(super) async fn forget_namespace(&self, key: &WorkspaceKey) {
        let _ = tokio::fs::remove_file(self.base_file(key)).await;
    }
}

/// Shifts the owner and group of `root` and everything under it from the namespace at `old`
/// to the one at `new`.
fn shift_tree(root: &Path, old: u32, new: u32) -> std::io::Result<()> {
    use std::os::unix::fs::MetadataExt as _;
    let mut stack = vec![root.to_path_buf()];
    while let Some(path) = stack.pop() {
        let meta = std::fs::symlink_metadata(&path)?;
        let (uid, gid) = (
            shift_id(meta.uid(), old, new),
            shift_id(meta.gid(), old, new),
        );
        if uid.is_some() || gid.is_some() {
            std::os::unix::fs::lchown(&path, uid, gid)?;
        }
        if meta.is_dir() {
            for entry in std::fs::read_dir(&path)? {
                stack.push(entry?.path());
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_move_between_namespaces() {
        assert_eq!(
            shift_id(2_000_001_000, 2_000_000_000, 3_000_000_000),
            Some(3_000_001_000)
        );
        assert_eq!(shift_id(1000, 2_000_000_000, 3_000_000_000), None);
        assert_eq!(shift_id(2_000_065_536, 2_000_000_000, 3_000_000_000), None);
    }

    #[test]
    fn the_base_is_read_from_inspect() {
        assert_eq!(
            parse_base("[\"0:2147483647:65536\"]\n"),
            Some(2_147_483_647)
        );
        assert_eq!(parse_base("null"), None);
        assert_eq!(parse_base("[]"), None);
    }
}
