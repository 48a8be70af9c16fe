//! Diagnostics: every problem found in input, with a stable code, a field path and a place.

use crate::source::Location;
use std::fmt;
use std::ops::Range;

/// How serious a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Input is invalid; nothing is produced.
    Error,
    /// Input is accepted, but something is probably wrong.
    Warning,
}

/// Another place that explains a diagnostic ("first defined here").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Related {
    /// Where.
    pub location: Location,
    /// What is there.
    pub message: String,
}

/// One problem in the input.
///
/// `code` is stable across releases (tools may match on it); `message` is for people.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// Stable identifier such as `spec::unknown-field`; see [`codes`].
    pub code: &'static str,
    /// One sentence saying what is wrong.
    pub message: String,
    /// The field path in wire names, e.g. `spec.runtime.envVars[2].fromSecret` (may be empty).
    pub path: String,
    /// The primary place, when known.
    pub location: Option<Location>,
    /// A byte span in the file narrower than the node (a reference inside a string).
    pub span: Option<Range<usize>>,
    /// Other places that explain the problem.
    pub related: Vec<Related>,
    /// How to fix it, when that can be said.
    pub help: Option<String>,
}

impl Diagnostic {
    /// A new error diagnostic.
    pub fn error(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Error,
            code,
            message: message.into(),
            path: String::new(),
            location: None,
            span: None,
            related: Vec::new(),
            help: None,
        }
    }

    /// A new warning diagnostic.
    pub fn warning(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Warning,
            ..Self::error(code, message)
        }
    }

    /// Sets the field path.
    pub fn at_path(mut self, path: impl Into<String>) -> Self {
        self.path = path.into();
        self
    }

    /// Sets the primary location.
    pub fn at(mut self, location: Location) -> Self {
        self.location = Some(location);
        self
    }

    /// Narrows the primary location to a byte span of the file.
    pub fn with_span(mut self, span: Range<usize>) -> Self {
        self.span = Some(span);
        self
    }

    /// Adds a help line.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Adds a related place.
    pub fn with_related(mut self, location: Location, message: impl Into<String>) -> Self {
        self.related.push(Related {
            location,
            message: message.into(),
        });
        self
    }

    /// Whether this diagnostic is an error.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// The byte span to underline: the narrowed span, else the node's span.
    pub fn primary_span(&self) -> Option<Range<usize>> {
        self.span
            .clone()
            .or_else(|| self.location.map(|l| l.span()))
    }
}

/// A list of diagnostics, returned as the error of an operation that found problems.
#[derive(Debug, Clone, Default, PartialEq, Eq, thiserror::Error)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    /// Whether any diagnostic is an error.
    pub fn has_errors(&self) -> bool {
        self.0.iter().any(Diagnostic::is_error)
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{}: {}", d.code, d.message)?;
            if !d.path.is_empty() {
                write!(f, " (at {})", d.path)?;
            }
        }
        Ok(())
    }
}

/// The stable diagnostic codes of the spec crate.
pub mod codes {
    /// The text is not well-formed YAML or JSON.
    pub const SYNTAX: &str = "spec::syntax";
    /// The input is larger, deeper or expands further than the parser allows.
    pub const TOO_LARGE: &str = "spec::too-large";
    /// The bytes are not UTF-8, the one encoding the loader reads.
    pub const ENCODING: &str = "spec::encoding";
    /// A mapping has the same key twice.
    pub const DUPLICATE_KEY: &str = "spec::duplicate-key";
    /// A YAML tag the parser does not support.
    pub const UNSUPPORTED_TAG: &str = "spec::unsupported-tag";
    /// A field that this kind does not have.
    pub const UNKNOWN_FIELD: &str = "spec::unknown-field";
    /// A value of the wrong type (a string where a number belongs, say).
    pub const TYPE: &str = "spec::type";
    /// A field that must be present is missing.
    pub const REQUIRED: &str = "spec::required";
    /// An enum value that does not exist.
    pub const UNKNOWN_VARIANT: &str = "spec::unknown-variant";
    /// More than one choice of a one-of is set.
    pub const ONE_OF: &str = "spec::one-of";
    /// `kind` or `apiVersion` is missing or not known.
    pub const KIND: &str = "spec::kind";
    /// A resource or sub-resource name has the wrong shape.
    pub const NAME: &str = "spec::name";
    /// A string is longer (or a number larger) than allowed, or empty where it must not be.
    pub const LENGTH: &str = "spec::length";
    /// A list has more entries than allowed.
    pub const COUNT: &str = "spec::count";
    /// A git branch, tag or commit that git would not accept or that could inject options.
    pub const GIT_REF: &str = "spec::git-ref";
    /// A URL that is malformed, or not https where https is required.
    pub const URL: &str = "spec::url";
    /// A volume mount path that is not absolute and clean, or is reserved.
    pub const MOUNT_PATH: &str = "spec::mount-path";
    /// An inline Dockerfile asks for what a build on the host must not do (a `RUN --mount`,
    /// an `ADD` of a URL).
    pub const DOCKERFILE: &str = "spec::dockerfile";
    /// Two volume mounts at the same or nested paths, or one volume mounted twice.
    pub const MOUNT_CONFLICT: &str = "spec::mount-conflict";
    /// A Linux capability name that does not match `ALL` or `[A-Z][A-Z0-9_]{0,29}`.
    pub const CAPABILITY: &str = "spec::capability";
    /// The same name (application, repository, env key, var) twice in one document.
    pub const DUPLICATE: &str = "spec::duplicate";
    /// More than one application is marked `isDefault`.
    pub const DEFAULT_APPLICATION: &str = "spec::default-application";
    /// A port outside 1..=65535.
    pub const PORT: &str = "spec::port";
    /// An egress rule's destination that is not an IPv4 or IPv6 CIDR (`10.0.0.0/8`,
    /// `2001:db8::/32`) or address.
    pub const CIDR: &str = "spec::cidr";
    /// A task without a `type`, or with `UNKNOWN`.
    pub const TASK_TYPE: &str = "spec::task-type";
    /// An environment variable with no value source.
    pub const ENV_VALUE: &str = "spec::env-value";
    /// A limit outside its bounds, or a default above its own maximum.
    pub const LIMIT: &str = "spec::limit";
    /// A value not allowed in this place (a Secret reference in a USER Space, say).
    pub const NOT_ALLOWED: &str = "spec::not-allowed";
    /// The document kind is not the one expected here.
    pub const UNEXPECTED_KIND: &str = "spec::unexpected-kind";
}
