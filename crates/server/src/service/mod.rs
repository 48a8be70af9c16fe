//! The gRPC services: authentication, authorization, validation and the resource rules.

mod compile;
mod documents;
mod handlers;
mod management;

pub(crate) use compile::compile_effective;
pub use handlers::Api;
pub(crate) use handlers::{DEFAULT_TEMPLATE, now};
pub use management::Management;

use crate::store::StoreError;
use tonic::{Code, Status};

/// Who is calling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The user name.
    pub name: String,
    /// Whether the user administers the cluster.
    pub admin: bool,
    /// Set for a workspace's session credential: the workspace it may act for (and nothing
    /// else: read its own effective spec, report its own activity).
    pub session: Option<String>,
}

impl Caller {
    /// A user.
    pub fn user(name: impl Into<String>, admin: bool) -> Self {
        Self {
            name: name.into(),
            admin,
            session: None,
        }
    }
}

/// The `'static` kind name stored in the `kind` column.
pub fn kind_name(kind: &str) -> &'static str {
    match kind {
        "Space" => "Space",
        "Template" => "Template",
        "Workspace" => "Workspace",
        "Secret" => "Secret",
        "UserSecret" => "UserSecret",
        "GitProvider" => "GitProvider",
        "UserConfig" => "UserConfig",
        _ => "ClusterConfig",
    }
}

impl From<StoreError> for Status {
    fn from(e: StoreError) -> Self {
        match &e {
            StoreError::AlreadyExists { .. } => Status::new(Code::AlreadyExists, e.to_string()),
            StoreError::NotFound { .. } => Status::new(Code::NotFound, e.to_string()),
            StoreError::Conflict { .. } => Status::new(Code::Aborted, e.to_string()),
            StoreError::Database(inner) => {
                tracing::error!("database: {inner}");
                Status::new(Code::Unavailable, "the store is unavailable; try again")
            }
        }
    }
}

impl From<crate::crypto::CryptoError> for Status {
    fn from(e: crate::crypto::CryptoError) -> Self {
        tracing::error!("crypto: {e}");
        Status::internal("a secret could not be processed")
    }
}

/// `NotFound` for a resource the caller may not see (whether or not it exists).
pub(crate) fn not_found(kind: &str, name: &str) -> Status {
    Status::not_found(format!("{kind} `{name}` not found"))
}
