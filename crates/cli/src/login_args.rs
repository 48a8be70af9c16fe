//! The flags of `cordium login` (an API token, an OIDC sign-in, or a workload's token) and
//! of `cordium git` (connected git accounts).

use crate::args::ServerArgs;
use clap::{Args, Subcommand};
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
    #[arg(long, value_name = "ISSUER_URL", conflicts_with_all = ["workload_token_file", "github"])]
    pub(crate) oidc: Option<String>,
    /// Sign in with your GitHub account (the server's GitHub OAuth app): the CLI prints a
    /// URL to open and receives the answer on a loopback port; the server gives a
    /// short-lived API token.
    #[arg(long, conflicts_with = "workload_token_file")]
    pub(crate) github: bool,
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

/// `cordium git`.
#[derive(Debug, Args)]
pub(crate) struct GitArgs {
    /// What to do.
    #[command(subcommand)]
    pub(crate) command: GitCommand,
}

/// The `cordium git` commands.
#[derive(Debug, Subcommand)]
pub(crate) enum GitCommand {
    /// Connect your account at a GitProvider: prints a URL to open in a browser, receives
    /// the provider's answer on a loopback port; the server keeps the tokens (sealed) and
    /// gives them to your workspaces' git.
    ///
    /// Example: cordium git connect team.alice/github
    Connect {
        /// SPACE/PROVIDER.
        provider: String,
    },
    /// Forget your account's tokens for a GitProvider.
    ///
    /// Example: cordium git disconnect team.alice/github
    Disconnect {
        /// SPACE/PROVIDER.
        provider: String,
    },
    /// List your connected accounts: provider, login, name, email, scopes (never tokens).
    Status,
}
