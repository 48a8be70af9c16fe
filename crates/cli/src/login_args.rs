//! The flags of `cordium login`: an API token, an OIDC sign-in, or a workload's token.

use crate::args::ServerArgs;
use clap::Args;
use std::path::PathBuf;

/// How `cordium login` signs in.
#[derive(Debug, Clone, Args)]
pub(crate) struct LoginArgs {
    /// The server, and an API token to check and save.
    #[command(flatten)]
    pub(crate) server: ServerArgs,
    /// Sign in at this OIDC issuer instead of giving a token: the authorization code flow
    /// with PKCE; the CLI prints a URL to open in a browser and receives the answer on a
    /// loopback port. The ID token and refresh token are saved and refreshed.
    #[arg(
        long,
        value_name = "ISSUER_URL",
        conflicts_with = "workload_token_file"
    )]
    pub(crate) oidc: Option<String>,
    /// The client id Cordium is registered as at the issuer (the server's audience).
    #[arg(long, value_name = "ID", default_value = "cordium")]
    pub(crate) client_id: String,
    /// The scopes asked for (`offline_access` gives a refresh token).
    #[arg(
        long,
        value_name = "SCOPES",
        default_value = "openid profile email offline_access"
    )]
    pub(crate) scope: String,
    /// A PEM file of extra CA certificates the issuer's HTTPS may use.
    #[arg(long, env = "CORDIUM_CA_FILE", value_name = "FILE")]
    pub(crate) ca_file: Option<PathBuf>,
    /// Exchange a workload's OIDC token from its own platform (read from FILE, e.g. a CI
    /// job's token) for a short-lived API token; it is exchanged again from the same file
    /// when it expires.
    #[arg(long, value_name = "FILE")]
    pub(crate) workload_token_file: Option<PathBuf>,
}
