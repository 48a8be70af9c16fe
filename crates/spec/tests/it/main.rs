//! Integration tests of the spec crate: one binary, one module per concern.

mod editors;
mod fixtures;
mod limits;
mod rules;
mod schemas;
