//! The `VolumeSnapshot` (`snapshot.storage.k8s.io/v1`) type, written by hand: it is a CRD of
//! the CSI external-snapshotter, so k8s-openapi has no type for it.
//!
//! A plain serde struct with a hand-written [`kube::Resource`] implementation rather than
//! `#[derive(CustomResource)]`: the derive would pull in kube's `derive` feature and schemars
//! only to generate a CRD schema we must not validate against anyway (a schema derived from our
//! own type would agree with it by construction). The tests validate against the upstream CRD's
//! schema instead (`fixtures/kubernetes/volumesnapshot-v1.schema.json`).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;

/// A request to snapshot a PersistentVolumeClaim.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VolumeSnapshot {
    /// Always `snapshot.storage.k8s.io/v1`.
    pub api_version: String,
    /// Always `VolumeSnapshot`.
    pub kind: String,
    /// The object's metadata.
    pub metadata: ObjectMeta,
    /// What to snapshot.
    pub spec: VolumeSnapshotSpec,
    /// What the snapshot controller reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<VolumeSnapshotStatus>,
}

/// `spec` of a [`VolumeSnapshot`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VolumeSnapshotSpec {
    /// The volume to snapshot.
    pub source: VolumeSnapshotSource,
    /// The VolumeSnapshotClass; `None`: the CSI driver's default class.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume_snapshot_class_name: Option<String>,
}

/// `spec.source` of a [`VolumeSnapshot`]: exactly one of the two fields.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VolumeSnapshotSource {
    /// The PersistentVolumeClaim to snapshot, in the snapshot's namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persistent_volume_claim_name: Option<String>,
    /// A pre-existing VolumeSnapshotContent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume_snapshot_content_name: Option<String>,
}

/// `status` of a [`VolumeSnapshot`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VolumeSnapshotStatus {
    /// Whether a volume can be restored from it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready_to_use: Option<bool>,
    /// The smallest volume it can be restored into.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore_size: Option<String>,
    /// The last error of the snapshot controller.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<VolumeSnapshotError>,
}

/// `status.error` of a [`VolumeSnapshot`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct VolumeSnapshotError {
    /// What went wrong.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl VolumeSnapshot {
    /// The API group.
    pub const GROUP: &'static str = "snapshot.storage.k8s.io";
    /// The API version.
    pub const VERSION: &'static str = "v1";
    /// The kind.
    pub const KIND: &'static str = "VolumeSnapshot";
    /// The plural, as in the URL path.
    pub const PLURAL: &'static str = "volumesnapshots";
}

impl kube::Resource for VolumeSnapshot {
    type DynamicType = ();
    type Scope = k8s_openapi::NamespaceResourceScope;

    fn kind(_: &()) -> Cow<'_, str> {
        Cow::Borrowed(Self::KIND)
    }

    fn group(_: &()) -> Cow<'_, str> {
        Cow::Borrowed(Self::GROUP)
    }

    fn version(_: &()) -> Cow<'_, str> {
        Cow::Borrowed(Self::VERSION)
    }

    fn plural(_: &()) -> Cow<'_, str> {
        Cow::Borrowed(Self::PLURAL)
    }

    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }

    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}
