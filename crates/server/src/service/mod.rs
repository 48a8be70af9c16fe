//! The gRPC services: authentication, authorization, validation and the resource rules.

mod api;
mod compile;
mod decoded;
mod documents;
mod exec;
mod git_connect;
mod git_provider;
mod handlers;
mod identity;
mod layers;
mod management;
mod pages;
mod resource;
mod secret;
mod space;
mod spec_tree;
pub(crate) mod ssh_key;
mod stream;
mod template;
mod user_config;
mod user_secret;
mod validated;
mod watch;
mod workspace;

pub use api::Api;
pub(crate) use api::DEFAULT_TEMPLATE;
pub(crate) use compile::{CompileRequest, compile_effective};
pub use git_connect::{GitConnect, GitCredential, GitHubSignIn, REFRESH_MARGIN_SECS};
pub use management::Management;
pub(crate) use resource::now;
pub(crate) use stream::{ExecStreamOut, PortForwardOut};
pub use stream::{OPEN_TIMEOUT, StreamLimits};
pub use watch::{BUFFER_BYTES, BUFFER_EVENTS, MAX_WATCHES_PER_USER, RECHECK_EVERY};

use crate::store::StoreError;
use tonic::{Code, Status};

/// Who is calling.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
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

impl From<StoreError> for Status {
    fn from(e: StoreError) -> Self {
        match &e {
            StoreError::AlreadyExists { .. } => Status::new(Code::AlreadyExists, e.to_string()),
            StoreError::NotFound { .. } => Status::new(Code::NotFound, e.to_string()),
            StoreError::Conflict { .. } => Status::new(Code::Aborted, e.to_string()),
            StoreError::QuotaExceeded { .. }
            | StoreError::TooManyTokens { .. }
            | StoreError::TooManyExchanges { .. } => {
                Status::new(Code::ResourceExhausted, e.to_string())
            }
            StoreError::Database(inner) => {
                tracing::error!("database: {inner}");
                Status::new(Code::Unavailable, "the store is unavailable; try again")
            }
            StoreError::Batch(inner) => {
                tracing::error!("database, in a group commit: {inner}");
                Status::new(Code::Unavailable, "the store is unavailable; try again")
            }
            StoreError::Busy => Status::new(
                Code::Unavailable,
                "too many creates are waiting to be written; try again shortly",
            ),
            StoreError::Abandoned => {
                tracing::error!("{e}");
                Status::new(Code::Unavailable, "the write did not happen; try again")
            }
            StoreError::UnknownKind(_) => {
                tracing::error!("{e}");
                Status::internal("the store holds a resource this server cannot read")
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
pub(crate) fn not_found(kind: cordium_spec::Kind, name: &str) -> Status {
    let name = cordium_spec::shapes::shown(name);
    Status::not_found(format!("{} `{name}` not found", kind.as_str()))
}
