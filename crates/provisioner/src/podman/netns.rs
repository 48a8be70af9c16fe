//! The network namespace a port connection enters ([`super::stream::connect`]), found once per
//! container rather than once per connection.
//!
//! Finding it means asking podman for the container's first process (`podman container
//! inspect`, a process on the host); a page loaded through the console's application proxy
//! opens a connection per request, and each used to run one: 200 concurrent requests made 200
//! podman processes. So the process id is remembered per container together with the inode of
//! its namespace, and used again only while `/proc/PID/ns/net`, once opened, is still that
//! namespace: a container stopped or made again has another process and another namespace, and
//! a process id reused by anything else has another namespace too. Lookups that do run podman
//! run at most [`MAX_LOOKUPS`] at once (the others wait, then find the first one's answer).

use super::{Podman, engine};
use crate::runtime::{RuntimeError, WorkspaceKey};
use std::collections::HashMap;
use std::os::unix::fs::MetadataExt as _;
use std::sync::{Arc, Mutex};

/// `podman container inspect` processes run at once for namespaces.
const MAX_LOOKUPS: usize = 8;
/// Containers remembered at most; past it the memory starts over.
const MAX_REMEMBERED: usize = 4096;

/// The remembered namespaces, shared by the backend's clones.
#[derive(Debug, Clone, Default)]
pub(super) struct Namespaces(Arc<Shared>);

/// The namespaces by container name, (process id, namespace inode), and the lookups' turns.
#[derive(Debug)]
struct Shared {
    known: Mutex<HashMap<String, (u32, u64)>>,
    lookups: tokio::sync::Semaphore,
}

impl Default for Shared {
    fn default() -> Self {
        Self {
            known: Mutex::default(),
            lookups: tokio::sync::Semaphore::new(MAX_LOOKUPS),
        }
    }
}

impl Namespaces {
    /// The network namespace of `key`'s running container, opened.
    pub(super) async fn open(
        &self,
        podman: &Podman,
        key: &WorkspaceKey,
    ) -> Result<std::fs::File, RuntimeError> {
        let name = key.object_name();
        if let Some(file) = self.remembered(&name) {
            return Ok(file);
        }
        let _turn = self
            .0
            .lookups
            .acquire()
            .await
            .map_err(|_| engine("finding the container's namespace", "closed"))?;
        // Another lookup may have answered while this one waited.
        if let Some(file) = self.remembered(&name) {
            return Ok(file);
        }
        let pid = container_pid(podman, key).await?;
        let file = std::fs::File::open(format!("/proc/{pid}/ns/net"))
            .map_err(|e| engine("opening the container's network namespace", e.to_string()))?;
        let inode = file
            .metadata()
            .map_err(|e| engine("reading the container's network namespace", e.to_string()))?
            .ino();
        let mut known = self.lock();
        if known.len() >= MAX_REMEMBERED {
            known.clear();
        }
        known.insert(name, (pid, inode));
        Ok(file)
    }

    /// The remembered namespace of container `name`, opened, if it is still the one
    /// remembered; a stale memory is forgotten.
    fn remembered(&self, name: &str) -> Option<std::fs::File> {
        let (pid, inode) = *self.lock().get(name)?;
        let file = std::fs::File::open(format!("/proc/{pid}/ns/net")).ok();
        match file {
            Some(file) if file.metadata().is_ok_and(|m| m.ino() == inode) => Some(file),
            _ => {
                self.lock().remove(name);
                None
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (u32, u64)>> {
        self.0
            .known
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The host pid of `key`'s container's first process; NotRunning when it has none.
async fn container_pid(podman: &Podman, key: &WorkspaceKey) -> Result<u32, RuntimeError> {
    let name = key.object_name();
    let mut command = podman.command();
    command.args(["container", "inspect", "--format", "{{.State.Pid}}", &name]);
    let out = podman.output(command, None).await?;
    let pid = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or(0);
    if !out.status.success() || pid == 0 {
        return Err(RuntimeError::NotRunning { name });
    }
    Ok(pid)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A remembered namespace is used while `/proc/PID/ns/net` is still it, and forgotten
    /// once it is not (here: a process id whose namespace inode differs, as after a restart).
    #[test]
    fn a_remembered_namespace_holds_only_while_it_is_the_same() {
        let namespaces = Namespaces::default();
        let own = std::process::id();
        let inode = std::fs::metadata(format!("/proc/{own}/ns/net"))
            .expect("this process's namespace")
            .ino();
        namespaces.lock().insert("cdm-same".into(), (own, inode));
        assert!(namespaces.remembered("cdm-same").is_some());
        namespaces
            .lock()
            .insert("cdm-moved".into(), (own, inode + 1));
        assert!(namespaces.remembered("cdm-moved").is_none());
        assert!(
            !namespaces.lock().contains_key("cdm-moved"),
            "a stale memory is forgotten"
        );
        namespaces
            .lock()
            .insert("cdm-gone".into(), (u32::MAX, inode));
        assert!(namespaces.remembered("cdm-gone").is_none());
    }
}
