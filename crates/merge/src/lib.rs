//! The Cordium configuration compiler: layers in, one deterministic EffectiveWorkspace out.
//!
//! [`compile()`] takes at most one document per layer (ClusterConfig, Space, Template,
//! UserConfig, repository file) and exactly one Workspace, already parsed and validated by
//! [`cordium_spec`], and:
//!
//! 1. resolves and caps [limits] per dimension, from the layers' typed limits;
//! 2. projects each layer into the shape of a Workspace spec ([`Layer`] orders them);
//! 3. folds the trees by the [strategy table](strategy::STRATEGIES), the one place that
//!    declares how every field merges: tasks and egress rules are concatenated in their own
//!    order and the resolved limits placed, by the table like every other field;
//! 4. substitutes `${{ vars.NAME }}` in the [eligible fields](substitute::ELIGIBLE), last;
//! 5. converts the result to the typed [`EffectiveSpec`], re-checking shapes (git refs, URLs)
//!    on the substituted values.
//!
//! Every walk over a tree (the fold, substitution, provenance, secret checks) goes through
//! [`cordium_spec::path`]: one lazily built [`cordium_spec::FieldPath`], shown in wire names,
//! matched against the tables' paths.
//!
//! Every node keeps its place through every stage, so each leaf's origin (and what it replaced
//! or what capped it) is known: [`Compiled::provenance`].
//!
//! ```
//! use cordium_merge::{compile, Inputs, Options};
//! use cordium_spec::{load, SourceMap};
//!
//! let text = "spec:\n  image: {registry: {url: python:3.11-slim}}\n  limit: {cpu: {millicores: 16000}}\n";
//! let mut sources = SourceMap::new();
//! let id = sources.add("ws.yaml", text);
//! let docs = load(text, id).documents;
//! let inputs = Inputs::from_documents(&sources, docs, None, Options::default()).unwrap();
//! let compiled = compile(inputs).unwrap();
//! assert_eq!(compiled.limits[0].value, 16000);
//! assert!(compiled.effective.to_yaml().contains("millicores: 16000"));
//! ```

pub mod compile;
pub mod effective;
pub mod emit;
pub mod inputs;
pub mod layer;
pub mod limits;
mod project;
pub mod provenance;
pub mod resolve;
mod secrets;
pub mod strategy;
pub mod substitute;
mod tree;

pub use compile::{Compiled, compile};
pub use effective::{EffectiveMetadata, EffectiveSpec, EffectiveWorkspace};
pub use inputs::{Inputs, Options};
pub use layer::{Layer, Origin};
pub use provenance::{LayerIndex, LeafOrigin};

/// The stable diagnostic codes of the compiler (variable errors use the vars crate's codes).
pub mod codes {
    /// Two documents of the same kind were given.
    pub const DUPLICATE_LAYER: &str = "compile::duplicate-layer";
    /// No Workspace was given.
    pub const NO_WORKSPACE: &str = "compile::no-workspace";
    /// A document that is not a layer (Secret, UserSecret, GitProvider) was given.
    pub const NOT_A_LAYER: &str = "compile::not-a-layer";
    /// A reference to a Secret or UserSecret that does not exist.
    pub const MISSING_SECRET: &str = "compile::missing-secret";
    /// An undefined variable was replaced by "" (lenient mode).
    pub const LENIENT_VAR: &str = "compile::undefined-var-lenient";
}
