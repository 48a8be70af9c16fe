//! Why a server command failed, and how that is told: the message, the field violations
//! the server listed, a hint, and the exit code.

use crate::args::MessageFormat;
use crate::exit::{INVALID, USAGE};
use crate::output::{Output, visible};
use cordium_spec::{Diagnostic, SourceMap};
use tonic::Code;
use tonic_types::StatusExt as _;

/// Why a server command failed.
#[derive(Debug)]
pub(crate) enum ClientError {
    /// The command was called wrongly (exit code 2).
    Usage(String),
    /// The input is wrong in a way diagnostics cannot show (exit code 1).
    Input(String),
    /// The document is invalid (exit code 1).
    Diagnostics(SourceMap, Vec<Diagnostic>),
    /// The server could not be reached (exit code 2).
    Connect {
        /// The server's URL.
        server: String,
        /// Why, with every cause.
        reason: String,
    },
    /// The server refused the call.
    Status {
        /// The server's URL.
        server: String,
        /// What it said.
        status: Box<tonic::Status>,
    },
}

/// The exit code for a status: 2 when the caller must fix how they call (the token, the
/// address), 1 when the server refused the request itself.
fn status_exit_code(code: Code) -> i32 {
    match code {
        Code::Unauthenticated | Code::Unavailable => USAGE,
        _ => INVALID,
    }
}

/// Prints an error and returns its exit code.
pub(super) fn report(error: ClientError, out: &mut Output) -> i32 {
    match error {
        // Messages may quote what a server, an issuer or a file said: shown, not obeyed.
        ClientError::Usage(message) => {
            out.err(&visible(&format!("error: {message}\n")));
            USAGE
        }
        ClientError::Input(message) => {
            out.err(&visible(&format!("error: {message}\n")));
            INVALID
        }
        ClientError::Diagnostics(sources, diagnostics) => {
            crate::render::report(&diagnostics, &sources, MessageFormat::Human, out);
            INVALID
        }
        ClientError::Connect { server, reason } => {
            out.err(&visible(&format!(
                "error: cannot reach the Cordium server at {server}: {reason}\n"
            )));
            USAGE
        }
        ClientError::Status { server, status } => {
            out.err(&status_text(&status, &server));
            status_exit_code(status.code())
        }
    }
}

/// `error: <Code>: <message>`, then each field violation on its own line, then a hint for
/// the codes that have one.
fn status_text(status: &tonic::Status, server: &str) -> String {
    let violations = status
        .get_error_details()
        .bad_request()
        .map(|b| b.field_violations.clone())
        .unwrap_or_default();
    let mut message = status.message().to_owned();
    // The message ends with the violations joined by `; `; they are listed below instead.
    if !violations.is_empty() {
        let joined = violations
            .iter()
            .map(|v| {
                format!(
                    "{}: {}",
                    if v.field.is_empty() {
                        "<document>"
                    } else {
                        &v.field
                    },
                    v.description
                )
            })
            .collect::<Vec<_>>()
            .join("; ");
        if let Some(summary) = message
            .strip_suffix(&joined)
            .and_then(|m| m.strip_suffix(": "))
        {
            message = summary.to_owned();
        }
    }
    let mut text = format!("error: {:?}: {message}\n", status.code());
    for v in &violations {
        let field = if v.field.is_empty() {
            "<document>"
        } else {
            &v.field
        };
        text.push_str(&format!("  {field}: {}\n", v.description));
    }
    match status.code() {
        Code::Unauthenticated => text.push_str(&format!(
            "help: {server} did not accept the token; log in again with `cordium login --server {server} --token TOKEN`, or pass --token\n"
        )),
        Code::Unavailable => text.push_str(&format!("help: is the server at {server} running and reachable?\n")),
        _ => {}
    }
    // What a server says is shown, never obeyed by the terminal.
    visible(&text).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic_types::ErrorDetails;

    #[test]
    fn field_violations_are_listed_once_each() {
        let mut details = ErrorDetails::new();
        details.add_bad_request_violation("spec.isEphemeral", "expected a boolean [spec::type]");
        details.add_bad_request_violation("", "no kind [spec::kind]");
        let status = tonic::Status::with_error_details(
            Code::InvalidArgument,
            "the Workspace is invalid: spec.isEphemeral: expected a boolean [spec::type]; <document>: no kind [spec::kind]",
            details,
        );
        assert_eq!(
            status_text(&status, "http://h:1"),
            "error: InvalidArgument: the Workspace is invalid\n  spec.isEphemeral: expected a boolean [spec::type]\n  <document>: no kind [spec::kind]\n"
        );
        assert_eq!(status_exit_code(status.code()), INVALID);
    }

    #[test]
    fn what_a_server_says_is_shown_not_obeyed() {
        let mut details = ErrorDetails::new();
        details.add_bad_request_violation("spec.\u{1b}[2J", "bad\rOVERWRITTEN");
        let status = tonic::Status::with_error_details(
            Code::InvalidArgument,
            "refused\u{1b}]0;title\u{7}\r\nline two",
            details,
        );
        let text = status_text(&status, "http://h:1");
        assert!(!text.contains(['\u{1b}', '\u{7}', '\r']), "{text:?}");
        assert!(
            text.contains("refused␛]0;title␇␍\nline two")
                && text.contains("spec.␛[2J: bad␍OVERWRITTEN"),
            "{text:?}"
        );
    }

    #[test]
    fn the_caller_fixes_tokens_and_addresses() {
        for code in [Code::Unauthenticated, Code::Unavailable] {
            assert_eq!(status_exit_code(code), USAGE);
        }
        for code in [
            Code::InvalidArgument,
            Code::NotFound,
            Code::AlreadyExists,
            Code::FailedPrecondition,
            Code::PermissionDenied,
            Code::Aborted,
        ] {
            assert_eq!(status_exit_code(code), INVALID);
        }
        let text = status_text(
            &tonic::Status::unauthenticated("unknown or revoked token"),
            "http://h:1",
        );
        assert!(text.starts_with("error: Unauthenticated: unknown or revoked token\nhelp: http://h:1 did not accept the token"), "{text}");
    }
}
