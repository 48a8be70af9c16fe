//! `cordium git connect|disconnect|status`: the user's git accounts at GitProviders. The
//! server runs the OAuth2 exchange and keeps the tokens; this command only carries the
//! browser's answer from a loopback port ([`super::sign_in::receive_code`]) to the server.

use super::connect::client;
use super::error::ClientError;
use super::sign_in::code_from_browser;
use crate::args::OnServer;
use crate::login_args::{GitArgs, GitCommand};
use crate::output::{Output, cell};
use cordium_api as pb;

/// Runs a `cordium git` command.
pub(super) async fn git(args: &OnServer<GitArgs>, out: &mut Output) -> Result<(), ClientError> {
    let mut client = client(&args.server).await?;
    match &args.flags.command {
        GitCommand::Connect { provider } => {
            let (space, name) = split(provider)?;
            let (listener, redirect) = super::sign_in::loopback().await?;
            let answer = client
                .api
                .begin_git_connect(pb::BeginGitConnectRequest {
                    space: space.clone(),
                    provider: name.clone(),
                    redirect_uri: redirect,
                })
                .await;
            let begun = client.answer(answer)?;
            let code = code_from_browser(
                &listener,
                &begun.authorization_url,
                &begun.state,
                &format!("connect {space}/{name}"),
                out,
            )
            .await?;
            let answer = client
                .api
                .finish_git_connect(pb::FinishGitConnectRequest {
                    state: begun.state,
                    code,
                    flow: begun.flow,
                })
                .await;
            let connection = client.answer(answer)?;
            // The profile is the provider's (a GitProvider any member of the Space may write).
            out.out(&format!(
                "connected {space}/{name} as {} ({} <{}>); scopes: {}\n",
                cell(&connection.login),
                cell(&connection.name),
                cell(&connection.email),
                cell(&connection.scopes.join(" "))
            ));
        }
        GitCommand::Disconnect { provider } => {
            let (space, name) = split(provider)?;
            let answer = client
                .api
                .disconnect_git_provider(pb::Ref {
                    name: name.clone(),
                    space: space.clone(),
                })
                .await;
            client.answer(answer)?;
            out.out(&format!("disconnected {space}/{name}\n"));
        }
        GitCommand::Status => {
            let answer = client.api.list_git_connections(pb::Empty {}).await;
            let list = client.answer(answer)?;
            out.out("PROVIDER\tLOGIN\tNAME\tEMAIL\tSCOPES\tHOSTS\n");
            for c in list.items {
                out.out(&format!(
                    "{}/{}\t{}\t{}\t{}\t{}\t{}\n",
                    c.space,
                    c.provider,
                    cell(&c.login),
                    cell(&c.name),
                    cell(&c.email),
                    cell(&c.scopes.join(" ")),
                    cell(&c.hosts.join(" "))
                ));
            }
        }
    }
    Ok(())
}

/// `SPACE/PROVIDER`.
fn split(provider: &str) -> Result<(String, String), ClientError> {
    match provider.split_once('/') {
        Some((space, name)) if !space.is_empty() && !name.is_empty() => {
            Ok((space.to_owned(), name.to_owned()))
        }
        _ => Err(ClientError::Usage(format!(
            "`{provider}`: name the provider as SPACE/PROVIDER"
        ))),
    }
}
