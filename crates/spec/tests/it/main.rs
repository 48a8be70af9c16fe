//! Integration tests of the spec crate: one binary, one module per concern.
#![allow(
    clippy::disallowed_methods,
    clippy::disallowed_types,
    reason = "tests and benches read fixtures and time runs; the purity rule (clippy.toml) is for the library"
)]

mod editors;
mod fixtures;
mod limits;
mod owned;
mod rules;
mod schemas;
