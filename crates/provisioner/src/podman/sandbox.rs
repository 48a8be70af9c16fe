//! What confines a workspace's container: its own user namespace, no new privileges, the
//! default seccomp profile, exactly the compiled capabilities, the read-only root, and the
//! Space Volumes it mounts.
//!
//! - **User namespace** (`--userns=auto:size=65536`): podman gives each container its own
//!   65,536 ids out of the subordinate ranges of the user `containers` in `/etc/subuid` and
//!   `/etc/subgid`, which [`ensure_subordinate_ids`] adds when missing, so container root is
//!   an unprivileged host uid that no other workspace shares. (The alternative, rootless
//!   podman under a service user, would need a second podman store and a login session for
//!   that user; the server runs rootful podman already.)
//! - `--security-opt no-new-privileges`: a setuid binary gains nothing (so `sudo` in the
//!   image cannot raise the workspace user; `runAsRoot` tasks are the way to root).
//! - Capabilities: `--cap-drop ALL`, then each of the compiled set
//!   ([`crate::plan::capabilities`], held to the grantable ones by the plan): every
//!   process's bounding set is exactly that set, and so are the effective sets of the main
//!   process and of container root; what `podman exec` starts as uid 1000 (`cordium exec`,
//!   SSH sessions) holds none.
//! - seccomp: podman's default profile (never `seccomp=unconfined`).

use crate::plan::Capabilities;
use crate::runtime::{ContainerSpec, RuntimeError, WorkspaceKey, space_volume_name};

/// The subordinate id range added for `containers` when it has none (podman's suggestion).
const SUBORDINATE_RANGE: &str = "containers:2147483647:2147483648\n";

/// The `podman run` arguments that confine `spec`'s container.
pub(super) fn confinement_args(spec: &ContainerSpec, user_namespace: bool) -> Vec<String> {
    let mut args = Vec::new();
    if user_namespace {
        args.push("--userns=auto:size=65536".to_owned());
    }
    args.extend(["--security-opt".to_owned(), "no-new-privileges".to_owned()]);
    match crate::plan::capabilities(&spec.add_capabilities, &spec.drop_capabilities) {
        Capabilities::Exactly(set) => {
            args.extend(["--cap-drop".to_owned(), "ALL".to_owned()]);
            for cap in set {
                args.extend(["--cap-add".to_owned(), cap]);
            }
        }
        Capabilities::AllBut(dropped) => {
            args.extend(["--cap-add".to_owned(), "ALL".to_owned()]);
            for cap in dropped {
                args.extend(["--cap-drop".to_owned(), cap]);
            }
        }
    }
    if spec.read_only {
        // `--read-only-tmpfs` (podman's default) keeps /tmp, /var/tmp and /run writable;
        // /run/secrets gets its own, where the secret file's mount point can be made.
        args.extend([
            "--read-only".to_owned(),
            "--read-only-tmpfs".to_owned(),
            "--tmpfs".to_owned(),
            "/run/secrets".to_owned(),
        ]);
    }
    for mount in &spec.mounts {
        let mut volume = format!("{}:{}", space_volume(&spec.key, &mount.volume), mount.path);
        if mount.read_only {
            volume.push_str(":ro");
        }
        args.extend(["--volume".to_owned(), volume]);
    }
    args
}

/// The podman volume of the Space Volume `volume` of `key`'s Space: shared by every
/// workspace of the Space that mounts it ([`space_volume_name`]).
pub(super) fn space_volume(key: &WorkspaceKey, volume: &str) -> String {
    space_volume_name(&key.space, volume)
}

/// Adds [`SUBORDINATE_RANGE`] to `path` (`/etc/subuid` or `/etc/subgid`) when it has no
/// range for `containers`, the user whose ranges `--userns=auto` draws from.
pub(super) fn ensure_subordinate_ids(path: &std::path::Path) -> Result<(), RuntimeError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(setup_error(path, &e)),
    };
    if text.lines().any(|l| l.starts_with("containers:")) {
        return Ok(());
    }
    let mut new = text;
    if !new.is_empty() && !new.ends_with('\n') {
        new.push('\n');
    }
    new.push_str(SUBORDINATE_RANGE);
    std::fs::write(path, new).map_err(|e| setup_error(path, &e))
}

fn setup_error(path: &std::path::Path, e: &std::io::Error) -> RuntimeError {
    RuntimeError::Engine {
        operation: "setting up subordinate ids".to_owned(),
        detail: format!(
            "{}: {e} (add `{}` to it, or run the server as root)",
            path.display(),
            SUBORDINATE_RANGE.trim_end()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subordinate_ids_are_added_once() {
        let dir = std::env::temp_dir().join(format!("cordium-subid-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap_or_default();
        let path = dir.join("subuid");
        std::fs::write(&path, "alice:100000:65536").unwrap_or_default();
        assert!(ensure_subordinate_ids(&path).is_ok());
        assert!(ensure_subordinate_ids(&path).is_ok());
        assert_eq!(
            std::fs::read_to_string(&path).unwrap_or_default(),
            "alice:100000:65536\ncontainers:2147483647:2147483648\n"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn space_volumes_are_named_by_space_and_volume_one_to_one() {
        let a = space_volume(&WorkspaceKey::new("team.alice", "x"), "data");
        let b = space_volume(&WorkspaceKey::new("team.alice", "y"), "data");
        assert_eq!(a, b, "one volume for the Space's workspaces");
        assert_eq!(a.len(), 36);
        assert!(a.starts_with("cdv-") && a[4..].bytes().all(|b| b.is_ascii_hexdigit()));
        // The pairs a readable join would confuse.
        let alice = space_volume(&WorkspaceKey::new("team.alice", "x"), "cache-v1");
        let cache = space_volume(&WorkspaceKey::new("team-alice.cache", "y"), "v1");
        assert_ne!(alice, cache);
        // What an operator computes with `sha256sum`.
        assert_eq!(
            space_volume(&WorkspaceKey::new("team.alice", "x"), "datasets"),
            "cdv-c810a47012fab7e17152d3274d9a1504"
        );
    }
}
