//! Integration tests of the spec crate: one binary, one module per concern.

mod rules;
mod schemas;
mod limits;
