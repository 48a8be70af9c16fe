//! Cordium's resource types, located parsing, per-document validation and JSON Schemas.
//!
//! ```
//! use cordium_spec::{load, SourceMap, Resource};
//!
//! let mut sources = SourceMap::new();
//! let text = "spec:\n  image:\n    registry:\n      url: python:3.11-slim\n";
//! let id = sources.add("workspace.yaml", text);
//! let loaded = load(text, id);
//! assert!(!loaded.has_errors());
//! let Resource::Workspace(ws) = &loaded.documents[0].resource else { unreachable!() };
//! let url = ws.spec.as_ref().and_then(|s| s.image.as_ref()).map(|i| i.loc.line);
//! assert_eq!(url, Some(3));
//! ```
//!
//! The pipeline is: text → [`yaml::parse_documents`] (a located [`Node`] tree per document)
//! → [`FromNode`] (typed resources, every field `Option<Located<T>>`) → [`validate`] (rules
//! across fields). Every stage records problems as [`Diagnostic`]s and goes on, so one run
//! reports every mistake.

mod macros;

pub mod convert;
pub mod diagnostic;
pub mod dockerfile;
pub mod document;
pub mod located;
pub mod node;
pub mod path;
pub mod resources;
pub mod schema;
pub mod shapes;
pub mod source;
pub mod validate;
pub mod yaml;

pub use convert::{Cx, FromNode};
pub use diagnostic::{Diagnostic, Diagnostics, Related, Severity, codes};
pub use document::{
    API_VERSION, Document, Kind, Loaded, Resource, load, load_trees, type_document,
};
pub use located::Located;
pub use node::{Entry, Node, NodeKind};
pub use path::FieldPath;
pub use resources::*;
pub use source::{Location, Source, SourceId, SourceMap};
