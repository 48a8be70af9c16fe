//! Which installation made an object. With [`PodmanOptions::installation`] set, every
//! container and volume the backend makes is labelled `cordium.installation=<id>`, and
//! [`Podman::held`] lists the workspaces holding such objects, so the driver can finish the
//! deletes a crash cut short without touching another installation's objects on the same
//! host, or objects made by hand or by older versions, which carry no such label.

use super::{Podman, PodmanOptions};
use crate::runtime::{RuntimeError, WorkspaceKey};
use std::collections::BTreeSet;

/// The label naming the installation.
const LABEL: &str = "cordium.installation";

/// The `--label` arguments every container and volume gets (none without an installation).
pub(super) fn label_args(options: &PodmanOptions) -> Vec<String> {
    options
        .installation
        .iter()
        .flat_map(|id| ["--label".to_owned(), format!("{LABEL}={id}")])
        .collect()
}

/// The `--format` of both listings: each object's Space and workspace labels, tab-separated
/// (neither a Space nor a workspace name holds a tab).
const FORMAT: &str = "{{index .Labels \"cordium.space\"}}\t{{index .Labels \"cordium.workspace\"}}";

/// The workspace keys in a listing in [`FORMAT`]; lines missing either label are skipped.
fn keys_in(listing: &str) -> impl Iterator<Item = WorkspaceKey> + '_ {
    listing.lines().filter_map(|line| {
        let (space, name) = line.split_once('\t')?;
        let labelled = |v: &str| !v.is_empty() && v != "<no value>";
        (labelled(space) && labelled(name)).then(|| WorkspaceKey::new(space, name))
    })
}

impl Podman {
    /// See [`crate::runtime::Runtime::held`].
    pub(super) async fn held(&self) -> Result<Vec<WorkspaceKey>, RuntimeError> {
        let Some(id) = self.options.installation.as_deref() else {
            return Ok(Vec::new());
        };
        let filter = format!("label={LABEL}={id}");
        let mut held = BTreeSet::new();
        for list in [&["ps", "--all"][..], &["volume", "ls"][..]] {
            let mut args = list.to_vec();
            args.extend(["--filter", &filter, "--format", FORMAT]);
            let listing = self.list(&args).await?;
            held.extend(keys_in(&listing).map(|key| (key.space, key.name)));
        }
        Ok(held
            .into_iter()
            .map(|(space, name)| WorkspaceKey::new(space, name))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_read_from_the_labels_of_listed_objects() {
        let listing = "team.alice\tk3x9\n\t\n<no value>\t<no value>\nteam.alice\t\nteam.bob\tq7\n";
        assert_eq!(
            keys_in(listing).collect::<Vec<_>>(),
            [
                WorkspaceKey::new("team.alice", "k3x9"),
                WorkspaceKey::new("team.bob", "q7")
            ]
        );
        assert_eq!(keys_in("").count(), 0);
    }

    #[test]
    fn objects_are_labelled_only_with_an_installation() {
        let mut options = PodmanOptions::new("/tmp/state");
        assert!(label_args(&options).is_empty());
        options.installation = Some("0123abcd".to_owned());
        assert_eq!(
            label_args(&options),
            ["--label", "cordium.installation=0123abcd"]
        );
    }
}
