//! The resource kinds and their parts, with upstream's lowerCamelCase wire names.

pub mod cluster;
pub mod common;
pub mod secret;
pub mod space;
pub mod template;
pub mod user_config;
pub mod workspace;

pub use cluster::*;
pub use common::*;
pub use secret::*;
pub use space::*;
pub use template::*;
pub use user_config::*;
pub use workspace::*;
