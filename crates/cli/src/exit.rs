//! The exit codes every command shares (see `cordium --help`).

/// Success.
pub(crate) const OK: i32 = 0;
/// Invalid input, or a server that refused the request.
pub(crate) const INVALID: i32 = 1;
/// Usage error: bad flags, unreadable files, no server configured or reachable.
pub(crate) const USAGE: i32 = 2;
