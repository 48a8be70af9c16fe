//! The order of a workspace's lifecycle tasks in the driver: each start or requested stop
//! waits for the one before it, so two runs' podman calls never interleave.

use tokio::task::JoinHandle;

/// A workspace's last lifecycle task in the driver's hands; the next one waits for it.
#[derive(Debug)]
pub(super) enum Lifecycle {
    /// A start: a stop request cancels it.
    Start(JoinHandle<()>),
    /// A requested stop: never cancelled (cut short, it would leave the workspace half
    /// stopped).
    Stop(JoinHandle<()>),
}

/// The task a new start waits for. Dropped unfinished (the waiting start was cancelled), it
/// cancels a start too: a dropped `JoinHandle` would leave that start running beside the next
/// run. A stop runs on.
pub(super) struct Waited(pub(super) Lifecycle);

impl Waited {
    pub(super) async fn finish(mut self) {
        let handle = match &mut self.0 {
            Lifecycle::Start(handle) | Lifecycle::Stop(handle) => handle,
        };
        let _ = handle.await;
    }
}

impl Drop for Waited {
    fn drop(&mut self) {
        if let Lifecycle::Start(handle) = &self.0 {
            handle.abort();
        }
    }
}
