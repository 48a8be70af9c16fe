//! Who an SSH login is and whether it may open the workspace it names.
//!
//! The SSH user is `WORKSPACE` or `WORKSPACE+SPACE`. A login holds when the workspace exists
//! (in the Space named, if one is), its owner registered the presented key, and the owner is
//! not disabled. Every other case is the same refusal. SSH lets a client ask whether a
//! public key would be accepted before proving it holds the private one, so whoever has a
//! public key can learn whether a named workspace's owner registered it (OpenSSH's
//! `authorized_keys` answers the same question); nothing else is revealed.

use crate::service::Api;
use cordium_provisioner::runtime::WorkspaceKey;
use cordium_spec::Kind;
use russh::keys::{HashAlg, PublicKey};

/// An authenticated SSH login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Login {
    /// The user the key belongs to.
    pub user: String,
    /// The key's `SHA256:...` fingerprint.
    pub fingerprint: String,
    /// The workspace it opens.
    pub workspace: WorkspaceKey,
}

/// The workspace and, optionally, the Space an SSH user names (`WORKSPACE[+SPACE]`); `None`
/// for a user that cannot name one.
pub fn parse_user(user: &str) -> Option<(&str, Option<&str>)> {
    let (workspace, space) = match user.split_once('+') {
        Some((workspace, space)) => (workspace, Some(space)),
        None => (user, None),
    };
    let valid = !workspace.is_empty()
        && workspace.len() <= 64
        && space.is_none_or(|s| !s.is_empty() && s.len() <= 128);
    valid.then_some((workspace, space))
}

/// The login `user` with `key` would be, if it holds: the workspace named, then the key
/// among its owner's.
pub async fn authorize(api: &Api, user: &str, key: &PublicKey) -> Option<Login> {
    let (workspace, space) = parse_user(user)?;
    let fingerprint = key.fingerprint(HashAlg::Sha256).to_string();
    let record = api
        .store()
        .get(Kind::Workspace, "", workspace)
        .await
        .ok()
        .flatten()?;
    if space.is_some_and(|s| s != record.space) {
        return None;
    }
    let (_, owner) = match api.store().ssh_key_user(&record.owner, &fingerprint).await {
        Ok(found) => found?,
        Err(e) => {
            tracing::warn!("ssh login: {e}");
            return None;
        }
    };
    Some(Login {
        user: owner.name,
        fingerprint,
        workspace: WorkspaceKey::new(record.space, record.name),
    })
}

/// Whether `login` still holds: its key is still registered to the same user, who is not
/// disabled, and the workspace still exists and is theirs. A store error keeps the connection
/// (the next check decides).
pub async fn still_valid(api: &Api, login: &Login) -> bool {
    let key = match api
        .store()
        .ssh_key_user(&login.user, &login.fingerprint)
        .await
    {
        Ok(key) => key,
        Err(e) => {
            tracing::warn!("ssh recheck: {e}");
            return true;
        }
    };
    if key.is_none_or(|(_, user)| user.name != login.user) {
        return false;
    }
    match api
        .store()
        .get(Kind::Workspace, "", &login.workspace.name)
        .await
    {
        Ok(record) => record.is_some_and(|r| r.owner == login.user),
        Err(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_name_a_workspace_and_maybe_its_space() {
        assert_eq!(parse_user("x7k"), Some(("x7k", None)));
        assert_eq!(
            parse_user("x7k+team.alice"),
            Some(("x7k", Some("team.alice")))
        );
        assert_eq!(parse_user(""), None);
        assert_eq!(parse_user("x7k+"), None);
        assert_eq!(parse_user("+team"), None);
    }
}
