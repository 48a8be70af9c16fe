//! The Cordium gRPC API, `cordium.v1`, generated from `proto/cordium/v1/cordium.proto`: message
//! types, tonic clients (for the CLI and other Rust tools) and servers (for `cordium-server`),
//! and the descriptor set that reflection serves.

pub mod codec;
pub mod explain;
pub mod json;
pub mod outbound;
pub mod serialize;
pub mod spec;

#[allow(missing_docs, unreachable_pub, clippy::all, reason = "generated code")]
mod generated {
    tonic::include_proto!("cordium.v1");
}
pub use generated::*;
pub use spec::Spec;

/// The encoded descriptor set of `cordium.v1`, for reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("cordium_descriptor");
