//! Errors and warnings of the `${{ vars.NAME }}` language.
//!
//! One error type, [`Error`], shaped `{ kind, span }`: the span is a byte range
//! inside the string that was parsed, so the caller (who knows the file, line,
//! column and field path of that string) can point at the exact column.
//! `Display` describes only this layer; the caller adds the location.

use std::fmt;
use std::ops::Range;

/// An error found while parsing or substituting a template.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind}")]
pub struct Error {
    /// What went wrong.
    pub kind: ErrorKind,
    /// Byte range inside the input string. See each [`ErrorKind`] variant for
    /// what the range covers.
    pub span: Range<usize>,
}

impl Error {
    /// The stable diagnostic code of this error's kind, such as `vars::undefined`.
    pub fn code(&self) -> &'static str {
        self.kind.code()
    }

    /// A hint on how to fix the error, when there is one.
    pub fn help(&self) -> Option<String> {
        self.kind.help()
    }
}

/// What went wrong, without the location.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ErrorKind {
    /// A reference to a variable that is not defined (strict substitution only).
    /// The span covers the whole `${{ ... }}`.
    #[error("undefined variable `{name}`")]
    UndefinedVariable {
        /// The name that was referenced.
        name: String,
        /// The closest defined name, when one is near by edit distance.
        suggestion: Option<String>,
    },
    /// Something other than `vars.NAME` inside `${{ ... }}`, such as
    /// `secrets.X`, `vars.A || 'x'` or nothing at all. The span covers the
    /// whole `${{ ... }}`.
    #[error("unsupported expression {}", Quoted(expression))]
    UnsupportedExpression {
        /// The text between the braces, with surrounding ASCII whitespace trimmed.
        expression: String,
    },
    /// A `${{` with no `}}` after it. The span covers the opening `${{`.
    #[error("unterminated `${{{{`: no closing `}}}}` follows")]
    Unterminated,
    /// `vars.` followed by something that is not a valid name, such as `1x` or
    /// `my-var`. The span covers the whole `${{ ... }}`.
    #[error("{}", InvalidName(name))]
    InvalidName {
        /// The offending name (empty when `vars.` is followed by nothing).
        name: String,
    },
    /// Substitution would make the string longer than its field holds
    /// ([`Template::check_len`](crate::Template::check_len)). The span covers the
    /// whole string.
    #[error("the value would be {len} bytes after substitution; the field holds at most {limit}")]
    TooLong {
        /// The length substitution would produce, in bytes.
        len: usize,
        /// The most the field holds, in bytes.
        limit: usize,
    },
}

impl ErrorKind {
    /// The stable diagnostic code: `vars::undefined`,
    /// `vars::unsupported-expression`, `vars::unterminated`,
    /// `vars::invalid-name` or `vars::too-long`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::UndefinedVariable { .. } => "vars::undefined",
            Self::UnsupportedExpression { .. } => "vars::unsupported-expression",
            Self::Unterminated => "vars::unterminated",
            Self::InvalidName { .. } => "vars::invalid-name",
            Self::TooLong { .. } => "vars::too-long",
        }
    }

    /// A hint on how to fix the error, when there is one.
    pub fn help(&self) -> Option<String> {
        match self {
            Self::UndefinedVariable {
                suggestion: Some(suggestion),
                ..
            } => Some(format!("did you mean `vars.{suggestion}`?")),
            Self::UndefinedVariable {
                suggestion: None, ..
            } => None,
            Self::UnsupportedExpression { .. } => Some(
                "only `${{ vars.NAME }}` is supported; write `$${{` for a literal `${{`".to_owned(),
            ),
            Self::Unterminated => {
                Some("close it with `}}`, or write `$${{` for a literal `${{`".to_owned())
            }
            Self::InvalidName { .. } => Some(
                "a variable name is `[A-Za-z_][A-Za-z0-9_]*`: a letter or `_`, then letters, \
                 digits or `_`"
                    .to_owned(),
            ),
            Self::TooLong { .. } => {
                Some("shorten the variables' values, or reference them fewer times".to_owned())
            }
        }
    }
}

/// A reference to an undefined variable, replaced by `""` in lenient mode.
#[derive(Debug, Clone, PartialEq, Eq, Hash, thiserror::Error)]
#[error("undefined variable `{name}` was replaced by an empty string")]
pub struct Warning {
    /// The name that was referenced.
    pub name: String,
    /// Byte range of the whole `${{ ... }}` inside the input string.
    pub span: Range<usize>,
}

impl Warning {
    /// The stable diagnostic code of the warning: `vars::undefined`.
    pub fn code(&self) -> &'static str {
        "vars::undefined"
    }
}

/// Displays an unsupported expression as it would be written.
struct Quoted<'e>(&'e str);

impl fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            f.write_str("`${{ }}`: the expression is empty")
        } else {
            write!(f, "`${{{{ {} }}}}`", self.0)
        }
    }
}

/// Displays an invalid-name message, with a special case for a missing name.
struct InvalidName<'e>(&'e str);

impl fmt::Display for InvalidName<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            f.write_str("missing variable name after `vars.`")
        } else {
            write!(f, "invalid variable name `{}`", self.0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds() -> Vec<ErrorKind> {
        vec![
            ErrorKind::UndefinedVariable {
                name: "BRANH".into(),
                suggestion: Some("BRANCH".into()),
            },
            ErrorKind::UndefinedVariable {
                name: "X".into(),
                suggestion: None,
            },
            ErrorKind::UnsupportedExpression {
                expression: "secrets.X".into(),
            },
            ErrorKind::UnsupportedExpression {
                expression: String::new(),
            },
            ErrorKind::Unterminated,
            ErrorKind::InvalidName { name: "1x".into() },
            ErrorKind::InvalidName {
                name: String::new(),
            },
        ]
    }

    #[test]
    fn display_code_and_help() {
        let got: Vec<String> = kinds()
            .iter()
            .map(|k| format!("{} | {} | {:?}", k.code(), k, k.help()))
            .collect();
        let expected = [
            "vars::undefined | undefined variable `BRANH` | Some(\"did you mean `vars.BRANCH`?\")",
            "vars::undefined | undefined variable `X` | None",
            "vars::unsupported-expression | unsupported expression `${{ secrets.X }}` | \
             Some(\"only `${{ vars.NAME }}` is supported; write `$${{` for a literal `${{`\")",
            "vars::unsupported-expression | unsupported expression `${{ }}`: the expression is \
             empty | Some(\"only `${{ vars.NAME }}` is supported; write `$${{` for a literal \
             `${{`\")",
            "vars::unterminated | unterminated `${{`: no closing `}}` follows | \
             Some(\"close it with `}}`, or write `$${{` for a literal `${{`\")",
            "vars::invalid-name | invalid variable name `1x` | Some(\"a variable name is \
             `[A-Za-z_][A-Za-z0-9_]*`: a letter or `_`, then letters, digits or `_`\")",
            "vars::invalid-name | missing variable name after `vars.` | Some(\"a variable name \
             is `[A-Za-z_][A-Za-z0-9_]*`: a letter or `_`, then letters, digits or `_`\")",
        ];
        assert_eq!(got, expected);
    }

    #[test]
    fn error_delegates_to_kind() {
        let err = Error {
            kind: ErrorKind::Unterminated,
            span: 2..5,
        };
        assert_eq!(err.to_string(), ErrorKind::Unterminated.to_string());
        assert_eq!(err.code(), "vars::unterminated");
        assert_eq!(err.help(), ErrorKind::Unterminated.help());
    }

    #[test]
    fn warning_display_and_code() {
        let w = Warning {
            name: "X".into(),
            span: 0..13,
        };
        assert_eq!(
            w.to_string(),
            "undefined variable `X` was replaced by an empty string"
        );
        assert_eq!(w.code(), "vars::undefined");
    }
}
