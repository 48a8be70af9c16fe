//! Containers' states, read with `podman container inspect`: one container for a lifecycle
//! step, or every running workspace's container at once for the driver's health check.
//!
//! A podman process costs tens of milliseconds of CPU, so reading N containers one by one
//! every few seconds would keep a core busy with a few hundred running workspaces; one
//! inspect of up to [`PER_INSPECT`] containers costs about as much as one of a single
//! container. A container the batch does not answer for (it is gone, or podman failed) is read
//! again on its own, so that "no such container" and an engine failure stay apart exactly as
//! [`Podman::read_state`] tells them.

use super::{Podman, storage};
use crate::runtime::{ContainerState, RuntimeError, WorkspaceKey};
use std::collections::HashMap;

/// The most containers one inspect names: bounds its command line (object names are at most
/// 63 bytes) and its output.
const PER_INSPECT: usize = 256;

impl Podman {
    /// `key`'s container's state; `Absent` when podman says there is no such container.
    pub(super) async fn read_state(
        &self,
        key: &WorkspaceKey,
    ) -> Result<ContainerState, RuntimeError> {
        match self.inspect(key, storage::STATE_FORMAT).await? {
            Some(text) => Ok(self.interpret(key, &text).await),
            None => Ok(ContainerState::Absent),
        }
    }

    /// The states of `keys`' containers, in order, read [`PER_INSPECT`] at a time.
    pub(super) async fn read_states(
        &self,
        keys: &[WorkspaceKey],
    ) -> Vec<Result<ContainerState, RuntimeError>> {
        let mut states = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(PER_INSPECT) {
            let mut answers = self.inspect_many(chunk).await;
            for key in chunk {
                let state = match answers.remove(&key.object_name()) {
                    Some(text) => Ok(self.interpret(key, &text).await),
                    None => self.read_state(key).await,
                };
                states.push(state);
            }
        }
        states
    }

    /// What one inspect of `keys`' containers says of each, by container name; containers it
    /// does not answer for are missing (podman prints the others, then fails).
    async fn inspect_many(&self, keys: &[WorkspaceKey]) -> HashMap<String, String> {
        let format = format!("{{{{.Name}}}} {}", storage::STATE_FORMAT);
        let mut command = self.command();
        command.args(["container", "inspect", "--format", &format]);
        command.args(keys.iter().map(WorkspaceKey::object_name));
        let Ok(out) = self.output(command, None).await else {
            return HashMap::new();
        };
        parse_many(&String::from_utf8_lossy(&out.stdout))
    }

    /// A [`storage::STATE_FORMAT`] answer as a state.
    async fn interpret(&self, key: &WorkspaceKey, text: &str) -> ContainerState {
        let mut words = text.split_whitespace();
        match words.next() {
            Some("running") => {
                let _exit_code = words.next();
                match self.over_storage_limit(key, words).await {
                    Some(why) => ContainerState::Failed(why),
                    None => ContainerState::Running,
                }
            }
            Some("created" | "configured" | "initialized") => ContainerState::Pending,
            Some(status) => ContainerState::Failed(format!(
                "{status}, exit code {}",
                words.next().unwrap_or("unknown")
            )),
            None => ContainerState::Absent,
        }
    }
}

/// Lines of `NAME REST` as a map from the name to the rest.
fn parse_many(stdout: &str) -> HashMap<String, String> {
    stdout
        .lines()
        .filter_map(|line| line.split_once(' '))
        .map(|(name, rest)| (name.to_owned(), rest.to_owned()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_line_answers_for_the_container_it_names() {
        let out = "cdm-abc running 0 <no value> \ncdm-x7k exited 137 5 cdm-x7k-workspace=/v/a \n";
        let answers = parse_many(out);
        assert_eq!(answers.len(), 2);
        assert_eq!(answers["cdm-abc"], "running 0 <no value> ");
        assert_eq!(answers["cdm-x7k"], "exited 137 5 cdm-x7k-workspace=/v/a ");
        assert!(parse_many("").is_empty());
    }
}
