//! The pest parser generated from `vars.pest`.
//!
//! Kept private: the public surface is [`crate::parse`] and the typed
//! [`crate::Template`]; pest's `Rule` and `Pairs` never leak out of the crate.

use pest_derive::Parser;

/// The parser for the `${{ vars.NAME }}` language (see `vars.pest`).
#[derive(Parser)]
#[grammar = "vars.pest"]
pub(crate) struct VarsParser;
