//! The Cordium gRPC server: resources in a store, identity, write-only secrets, workspace
//! watches and compilation, over tonic.
//!
//! - [`store`]: SQLite (embedded) or PostgreSQL (replicas), transactional, versioned schema.
//! - [`agent`]: each run's SSH agent (the owner's SSH_KEY UserSecrets, on a socket).
//! - [`crypto`]: sealed secret values, hashed API tokens, SSH key pairs.
//! - [`service`]: `cordium.v1.MainService` and `ManagementService`.
//! - [`driver`]: the lifecycle driver, running workspaces on a provisioner runtime.
//! - [`connections`]: caps and deadlines for connections on an open port.
//! - `cache`: memos of hot reads (tokens, Spaces, records, compiles), exact for this
//!   process's writes and trusted for at most [`CACHE_TTL`].
//! - [`workspace_state`]: protobuf workspace states to and from the provisioner's, and the
//!   one table-checked way to change a workspace's state.
//! - [`ssh`]: standard SSH into workspaces (russh), on its own port.
//! - [`server`]: wiring: health, reflection and the services on one listener.

pub mod agent;
pub mod auth;
pub(crate) mod cache;
pub mod connections;
pub mod console;
pub mod crypto;
pub mod driver;
pub mod git_credentials;
pub mod git_oauth;
pub mod names;
pub mod oidc;
pub mod server;
pub mod service;
pub mod ssh;
pub mod store;
pub(crate) mod throttle;
pub mod workspace_state;

pub use cache::TTL as CACHE_TTL;

/// The generated protobuf types and gRPC stubs of `cordium.v1` (the `cordium-api` crate).
pub use cordium_api as pb;
