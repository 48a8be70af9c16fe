//! A run's SSH agent in the container: the server serves the agent on a unix socket in
//! `<agent_sockets>/<container name>/agent.sock` (made before the start); podman mounts that
//! directory read-only at [`AGENT_DIR`] and sets `SSH_AUTH_SOCK`, which every process of the
//! container inherits (the main process, tasks, exec, shells, SSH sessions). Only the socket
//! enters the container, never a key. `GIT_CONFIG_SYSTEM` points git at the run's
//! configuration in the same directory (the git credential socket beside it).

use std::path::Path;
use tokio::process::Command;

/// Where a run's SSH agent socket directory is mounted in the container.
pub const AGENT_DIR: &str = "/run/cordium-agent";

/// Adds the agent's mount and `SSH_AUTH_SOCK` to `podman run` for container `name`, when the
/// backend has agents.
pub(super) fn mount(command: &mut Command, agent_sockets: Option<&Path>, name: &str) {
    if let Some(dir) = agent_sockets {
        command
            .arg("--volume")
            .arg(format!("{}:{AGENT_DIR}:ro", dir.join(name).display()))
            .arg("--env")
            .arg(format!("SSH_AUTH_SOCK={AGENT_DIR}/agent.sock"))
            // The run's git configuration (the server writes it beside the agent's socket:
            // the image's own system configuration included, and, with a connected
            // GitProvider, the credential helper socket and the profile's user.name/email).
            .arg("--env")
            .arg(format!("GIT_CONFIG_SYSTEM={AGENT_DIR}/gitconfig"));
    }
}
