//! `cordium ssh-key`, `cordium ssh` and `cordium ssh-config`: SSH into workspaces with the
//! system's OpenSSH client.
//!
//! The server's host key comes over the API (GetSshEndpoint), which the saved login already
//! trusts, and is written to `known_hosts` next to the saved login; `ssh` is then run with
//! `StrictHostKeyChecking=yes` against that file, so the first connection asks nothing and a
//! different key is refused.

use super::config;
use super::connect::{call, client};
use super::error::ClientError;
use crate::args::{OnServer, SshArgs, SshConfigArgs, SshKeyCommand};
use crate::output::Output;
use cordium_api as pb;
use std::path::PathBuf;

/// `cordium ssh-key add|list|remove`.
pub(super) async fn key(command: &SshKeyCommand, out: &mut Output) -> Result<(), ClientError> {
    match command {
        SshKeyCommand::Add(args) => {
            let path = &args.flags.file;
            let text = if path.as_os_str() == "-" {
                std::io::read_to_string(std::io::stdin())
            } else {
                std::fs::read_to_string(path)
            }
            .map_err(|e| ClientError::Input(format!("{}: {e}", path.display())))?;
            let key = call(&args.server, async |api| {
                api.add_ssh_key(pb::AddSshKeyRequest { public_key: text })
                    .await
            })
            .await?;
            out.out(&line(&key));
        }
        SshKeyCommand::List(args) => {
            let keys = call(&args.server, async |api| {
                api.list_ssh_keys(pb::Empty {}).await
            })
            .await?;
            for key in &keys.items {
                out.out(&line(key));
            }
        }
        SshKeyCommand::Remove(args) => {
            let id = args.flags.id.clone();
            call(&args.server, async |api| {
                api.remove_ssh_key(pb::RemoveSshKeyRequest { id }).await
            })
            .await?;
            out.err(&format!("removed SSH key `{}`\n", args.flags.id));
        }
    }
    Ok(())
}

/// `ID  FINGERPRINT  ALGORITHM  COMMENT`.
fn line(key: &pb::SshKey) -> String {
    // The comment is whatever the key's file said.
    format!(
        "{}  {}  {}  {}\n",
        key.id,
        key.fingerprint,
        key.algorithm,
        crate::output::cell(&key.comment)
    )
}

/// Where SSH is, for a workspace: host, port, the SSH user and the known_hosts file.
struct Target {
    host: String,
    port: u32,
    user: String,
    known_hosts: PathBuf,
}

/// The host of a server URL (`http://HOST:PORT/...`), without IPv6 brackets.
fn url_host(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split('/').next().unwrap_or(rest);
    let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
    if let Some(v6) = authority.strip_prefix('[') {
        return v6.split(']').next().unwrap_or(v6);
    }
    authority.split(':').next().unwrap_or(authority)
}

/// A known_hosts line for `host` on `port`.
fn known_hosts_line(host: &str, port: u32, key: &str) -> String {
    let key = key.split_whitespace().take(2).collect::<Vec<_>>().join(" ");
    if port == 22 {
        format!("{host} {key}\n")
    } else {
        format!("[{host}]:{port} {key}\n")
    }
}

/// Asks the server where SSH is and saves its host key.
async fn target(
    server: &crate::args::ServerArgs,
    name: &str,
    space: Option<&str>,
) -> Result<Target, ClientError> {
    let client = client(server).await?;
    let mut api = client.api.clone();
    let answer = api.get_ssh_endpoint(pb::Empty {}).await;
    let endpoint = client.answer(answer)?;
    if !endpoint.enabled {
        return Err(ClientError::Input(format!(
            "{} serves no SSH (an operator starts it with `cordium-server serve --ssh-listen ADDR`)",
            client.server
        )));
    }
    let host = url_host(&client.server).to_owned();
    let known_hosts = config::path()?.with_file_name("known_hosts");
    let write = || -> std::io::Result<()> {
        if let Some(dir) = known_hosts.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let line = known_hosts_line(&host, endpoint.port, &endpoint.host_key);
        let old = std::fs::read_to_string(&known_hosts).unwrap_or_default();
        if !old.lines().any(|l| format!("{l}\n") == line) {
            let prefix = line.split(' ').next().unwrap_or_default();
            let mut kept: String = old
                .lines()
                .filter(|l| l.split(' ').next() != Some(prefix))
                .map(|l| format!("{l}\n"))
                .collect();
            kept.push_str(&line);
            std::fs::write(&known_hosts, kept)?;
        }
        Ok(())
    };
    write().map_err(|e| ClientError::Input(format!("{}: {e}", known_hosts.display())))?;
    Ok(Target {
        host,
        port: endpoint.port,
        user: match space {
            Some(space) => format!("{name}+{space}"),
            None => name.to_owned(),
        },
        known_hosts,
    })
}

/// `cordium ssh NAME [-- CMD...]`: runs `ssh` and returns its exit code.
pub(super) async fn ssh(command: &OnServer<SshArgs>, out: &mut Output) -> Result<i32, ClientError> {
    let args = &command.flags;
    let target = target(&command.server, &args.name, args.space.as_deref()).await?;
    let mut ssh = std::process::Command::new("ssh");
    ssh.arg("-p")
        .arg(target.port.to_string())
        .arg("-o")
        .arg(format!(
            "UserKnownHostsFile={}",
            target.known_hosts.display()
        ))
        .arg("-o")
        .arg("StrictHostKeyChecking=yes");
    if let Some(identity) = &args.identity {
        ssh.arg("-i").arg(identity);
    }
    ssh.arg(format!("{}@{}", target.user, target.host));
    if !args.command.is_empty() {
        ssh.arg("--").args(&args.command);
    }
    out.flush();
    let status = ssh
        .status()
        .map_err(|e| ClientError::Input(format!("running ssh (install OpenSSH's client): {e}")))?;
    Ok(status.code().unwrap_or(255))
}

/// `cordium ssh-config NAME`: prints a Host block.
pub(super) async fn config(
    command: &OnServer<SshConfigArgs>,
    out: &mut Output,
) -> Result<(), ClientError> {
    let args = &command.flags;
    let target = target(&command.server, &args.name, args.space.as_deref()).await?;
    let alias = args
        .host
        .clone()
        .unwrap_or_else(|| format!("cordium-{}", args.name));
    out.out(&format!(
        "Host {alias}\n  HostName {}\n  Port {}\n  User {}\n  UserKnownHostsFile {}\n  StrictHostKeyChecking yes\n",
        target.host,
        target.port,
        target.user,
        target.known_hosts.display()
    ));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_come_from_server_urls() {
        assert_eq!(url_host("http://127.0.0.1:50051"), "127.0.0.1");
        assert_eq!(url_host("http://api.example.com"), "api.example.com");
        assert_eq!(url_host("http://[::1]:50051/"), "::1");
        assert_eq!(
            known_hosts_line("h", 2222, "ssh-ed25519 AAAA cordium-server"),
            "[h]:2222 ssh-ed25519 AAAA\n"
        );
        assert_eq!(known_hosts_line("h", 22, "k b"), "h k b\n");
    }
}
