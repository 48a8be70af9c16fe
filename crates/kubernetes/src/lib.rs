//! The Cordium Kubernetes runtime: workspaces run as Kubernetes objects, behind the same
//! [`Runtime`](cordium_provisioner::runtime::Runtime) interface as the podman backend.
//!
//! - [`objects`](mod@objects): the pure half. From the lifecycle's
//!   [`ContainerSpec`](cordium_provisioner::runtime::ContainerSpec) and the
//!   [`KubernetesOptions`], a workspace's objects: an owner ConfigMap, a Secret of the
//!   secret-valued environment (referenced by `secretKeyRef`), a PersistentVolumeClaim
//!   (restored from a [`VolumeSnapshot`] through `dataSource` for pre-built workspaces), a
//!   Pod under a restricted security context, and a NetworkPolicy that lets nothing in and
//!   the compiled egress rules out (`network`). No Service: applications are reached through
//!   portforward only.
//! - [`status`]: Pod phases and container states as the seed's
//!   [`ContainerState`](cordium_provisioner::runtime::ContainerState)s.
//! - [`exec`](mod@exec): an [`ExecSpec`](cordium_provisioner::runtime::ExecSpec) as a
//!   Kubernetes exec, the environment on standard input.
//! - [`stream`](mod@stream): streamed processes (exec with `tty` and the resize channel) and
//!   port connections (portforward).
//! - [`KubernetesRuntime`]: the I/O half. Server-side apply with a field manager (so
//!   re-running is idempotent), conflicts retried, waits for the Pod, exec over websockets,
//!   VolumeSnapshots for pre-builds.
//!
//! Images are not built on Kubernetes: [`Runtime::build_image`] fails with
//! [`RuntimeError::ImageBuild`](cordium_provisioner::runtime::RuntimeError::ImageBuild).
//!
//! [`Runtime::build_image`]: cordium_provisioner::runtime::Runtime::build_image

pub mod exec;
mod network;
pub mod objects;
pub mod options;
pub mod runtime;
pub mod snapshot;
pub mod status;
pub mod stream;

pub use objects::{Names, Objects, ObjectsInput, objects};
pub use options::KubernetesOptions;
pub use runtime::KubernetesRuntime;
pub use snapshot::VolumeSnapshot;

/// Everything that can go wrong in this crate outside the [`Runtime`] interface (whose
/// methods return [`RuntimeError`]).
///
/// [`Runtime`]: cordium_provisioner::runtime::Runtime
/// [`RuntimeError`]: cordium_provisioner::runtime::RuntimeError
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No client could be made from the kubeconfig or the in-cluster environment.
    #[error("cannot connect to Kubernetes: {0}")]
    Client(#[from] kube::Error),
}
