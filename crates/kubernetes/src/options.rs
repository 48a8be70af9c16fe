//! How the Kubernetes runtime is configured: the namespace, storage and timeouts.

use std::time::Duration;

/// The Kubernetes runtime's configuration (the server's `--kube-*` flags and the
/// ClusterConfig's defaults).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KubernetesOptions {
    /// The namespace every workspace object lives in.
    pub namespace: String,
    /// The StorageClass of the workspace PersistentVolumeClaims; `None`: the cluster's
    /// default class.
    pub storage_class: Option<String>,
    /// The VolumeSnapshotClass of pre-build snapshots; `None`: the default class of the
    /// volume's CSI driver.
    pub snapshot_class: Option<String>,
    /// The volume size when the compiled limits set none, in MiB.
    pub default_storage_mib: u64,
    /// The field manager of every server-side apply.
    pub field_manager: String,
    /// The image used when no layer sets one.
    pub default_image: String,
    /// How long a start may wait for the Pod to run (the image pull included).
    pub start_timeout: Duration,
    /// How long a stop may wait for the Pod to go away and a snapshot to become ready.
    pub stop_timeout: Duration,
    /// The pause between two reads of an object being waited for.
    pub poll_interval: Duration,
    /// How many times a write that conflicts (HTTP 409) is retried before giving up.
    pub conflict_retries: u32,
    /// The installation (its store's id) every object is labelled with
    /// ([`INSTALLATION_LABEL`](crate::objects::INSTALLATION_LABEL)), so that `held` finds this
    /// installation's workspaces in a namespace another installation may share; `None`:
    /// nothing is labelled, and `held` lists nothing.
    pub installation: Option<String>,
}

impl Default for KubernetesOptions {
    fn default() -> Self {
        Self {
            namespace: "default".to_owned(),
            storage_class: None,
            snapshot_class: None,
            default_storage_mib: 10 * 1024,
            field_manager: "cordium".to_owned(),
            default_image: "docker.io/library/debian:bookworm".to_owned(),
            start_timeout: Duration::from_secs(600),
            stop_timeout: Duration::from_secs(600),
            poll_interval: Duration::from_secs(1),
            conflict_retries: 3,
            installation: None,
        }
    }
}
