//! The `${{ vars.NAME }}` substitution language of Cordium.
//!
//! Some fields of a workspace configuration (image URLs, branches, commands,
//! environment values, ...) may refer to variables. This crate parses such
//! strings with a [pest](https://pest.rs) grammar (`src/vars.pest`) and
//! substitutes the references. It is pure and synchronous: no IO.
//!
//! # The language
//!
//! | written | means |
//! |---|---|
//! | `${{ vars.NAME }}` | the value of variable `NAME` |
//! | `$${{` | a literal `${{` (the escape) |
//! | anything else | itself |
//!
//! - `NAME` is `[A-Za-z_][A-Za-z0-9_]*`.
//! - Any amount of ASCII whitespace (space, tab, line feed, form feed,
//!   carriage return), or none, may surround `vars.NAME` inside the braces:
//!   `${{vars.A}}` and `${{\n\tvars.A }}` are both references. No whitespace
//!   is allowed around the dot.
//! - Anything else inside `${{ ... }}` is an error: `${{ secrets.X }}`,
//!   `${{ vars.A || 'x' }}` and `${{ }}` are
//!   [unsupported expressions](ErrorKind::UnsupportedExpression),
//!   `${{ vars.1x }}` is an [invalid name](ErrorKind::InvalidName), and a
//!   `${{` with no `}}` after it is [unterminated](ErrorKind::Unterminated).
//! - A `}}` without an opening, a lone `$`, `$$`, `${` and `{{` are plain
//!   text.
//! - The string is read left to right, so `$$${{` is `$` followed by the
//!   escape, i.e. the literal text `$${{`.
//!
//! # Substitution
//!
//! - **Single pass**: values are inserted as they are and never re-scanned; a
//!   value containing `${{ vars.X }}` comes out literally.
//! - **Strict** ([`substitute`], [`render`]): an undefined name is an
//!   [`ErrorKind::UndefinedVariable`] error, which suggests the closest
//!   defined name when one is near.
//! - **Lenient** ([`substitute_lenient`]): an undefined name becomes `""` and
//!   yields a [`Warning`] instead (upstream's behaviour).
//! - A string without `${{` skips the parser and comes back borrowed
//!   ([`Cow::Borrowed`](std::borrow::Cow::Borrowed)), without allocating.
//!
//! Every [`Error`] and [`Warning`] carries the byte span of the offending
//! expression inside the string, so the caller can point at the exact column.
//! Each error kind has a stable [code](ErrorKind::code) and a
//! [help](ErrorKind::help) text.
//!
//! # Example
//!
//! ```
//! use std::collections::BTreeMap;
//!
//! let vars: BTreeMap<String, String> = [("BRANCH".to_owned(), "main".to_owned())].into();
//!
//! let template = cordium_vars::parse("refs/heads/${{ vars.BRANCH }} costs $${{ 5 }}")?;
//! assert!(template.has_references());
//! let names: Vec<&str> = cordium_vars::references(&template).map(|r| r.name).collect();
//! assert_eq!(names, ["BRANCH"]);
//! assert_eq!(
//!     cordium_vars::substitute(&template, &vars)?,
//!     "refs/heads/main costs ${{ 5 }}"
//! );
//!
//! // Strict mode: an undefined name is an error with a suggestion and a span.
//! let err = cordium_vars::render("git checkout ${{ vars.BRANH }}", &vars).unwrap_err();
//! assert_eq!(err.code(), "vars::undefined");
//! assert_eq!(err.help().as_deref(), Some("did you mean `vars.BRANCH`?"));
//! assert_eq!(err.span, 13..30);
//!
//! // Lenient mode: an undefined name becomes "" and yields a warning.
//! let template = cordium_vars::parse("x${{ vars.NOPE }}y")?;
//! let (out, warnings) = cordium_vars::substitute_lenient(&template, &vars);
//! assert_eq!(out, "xy");
//! assert_eq!(warnings[0].name, "NOPE");
//! # Ok::<(), cordium_vars::Error>(())
//! ```

mod error;
mod grammar;
mod lookup;
mod substitute;
mod template;

pub use error::{Error, ErrorKind, Warning};
pub use lookup::Lookup;
pub use substitute::{render, substitute, substitute_lenient};
pub use template::{Reference, Segment, Template, parse, references};
