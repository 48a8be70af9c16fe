//! `cordium login`: check a token against a server, then save both.

use super::config::Saved;
use super::connect::normalize;
use super::error::ClientError;
use crate::login_args::LoginArgs;
use crate::output::Output;

/// `cordium login`: signs in with OIDC or a workload token ([`super::sign_in`]), or checks
/// the given API token with a cheap call; then saves the server and token.
pub(super) async fn login(args: &LoginArgs, out: &mut Output) -> Result<(), ClientError> {
    if let Some(issuer) = &args.oidc {
        return super::sign_in::login_oidc(args, issuer, out).await;
    }
    if args.github {
        return super::sign_in::login_github(args, out).await;
    }
    if let Some(file) = &args.workload_token_file {
        return super::sign_in::login_workload(args, file, out).await;
    }
    let args = &args.server;
    let given = |v: &Option<String>| {
        v.as_ref()
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
    };
    let server = given(&args.server).ok_or_else(|| {
        ClientError::Usage("say which server: --server http://HOST:PORT (or CORDIUM_SERVER)".into())
    })?;
    let token = given(&args.token).ok_or_else(|| {
        ClientError::Usage("give your API token: --token TOKEN (or CORDIUM_TOKEN)".into())
    })?;
    let login = Saved {
        server: normalize(&server)?,
        token,
        ..Saved::default()
    };
    super::sign_in::check_and_save(login, out).await
}
