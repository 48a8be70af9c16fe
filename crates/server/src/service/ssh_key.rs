//! SSH public keys (`cordium ssh-key add|list|remove`) and where SSH is served
//! (`cordium ssh`, `cordium ssh-config`).
//!
//! A key opens its owner's workspaces through the SSH server ([`crate::ssh`]); ed25519 and
//! ECDSA keys are accepted (RSA and DSA are not: the server is built without them).

use super::Caller;
use super::api::Api;
use super::documents::bad_field;
use super::resource::Result;
use crate::pb;
use crate::store::ssh_keys::{SshKeyError, StoredSshKey};
use russh::keys::{Algorithm, HashAlg, PublicKey};
use tonic::Status;

/// The most bytes of a public key line accepted (an ECDSA P-521 key with a long comment is
/// well under it).
const MAX_KEY_LINE: usize = 8 * 1024;

/// A parsed public key: its stored form.
pub(crate) struct ParsedKey {
    /// The key.
    pub(crate) key: PublicKey,
    /// `SHA256:...`.
    pub(crate) fingerprint: String,
    /// The first 12 hex digits of the SHA-256.
    pub(crate) id: String,
}

/// `text` (one OpenSSH public key line) as a key this server accepts; the error says why not.
pub(crate) fn parse_public_key(text: &str) -> std::result::Result<ParsedKey, String> {
    if text.len() > MAX_KEY_LINE {
        return Err(format!(
            "a public key line has at most {MAX_KEY_LINE} bytes"
        ));
    }
    let line = text.trim();
    if line.contains('\n') {
        return Err("give one key (one line of a `.pub` file)".to_owned());
    }
    if line.starts_with("-----BEGIN") {
        return Err("this is a private key: give the public one (the `.pub` file)".to_owned());
    }
    let key = PublicKey::from_openssh(line)
        .map_err(|e| format!("not an OpenSSH public key line ({e})"))?;
    match key.algorithm() {
        Algorithm::Ed25519 | Algorithm::Ecdsa { .. } => {}
        other => {
            return Err(format!(
                "`{}` keys are not accepted: use ed25519 or ECDSA (`ssh-keygen -t ed25519`)",
                other.as_str()
            ));
        }
    }
    let digest = key.fingerprint(HashAlg::Sha256);
    let id = crate::crypto::hex(&digest.as_bytes()[..6]);
    Ok(ParsedKey {
        fingerprint: digest.to_string(),
        id,
        key,
    })
}

fn to_pb(stored: StoredSshKey) -> pb::SshKey {
    let parsed = PublicKey::from_openssh(&stored.public_key).ok();
    pb::SshKey {
        algorithm: parsed
            .as_ref()
            .map(|k| k.algorithm().as_str().to_owned())
            .unwrap_or_default(),
        comment: parsed
            .as_ref()
            .map(|k| k.comment().to_string())
            .unwrap_or_default(),
        id: stored.id,
        public_key: stored.public_key,
        fingerprint: stored.fingerprint,
        created_at: Some(prost_types::Timestamp {
            seconds: stored.created_at,
            nanos: 0,
        }),
    }
}

impl Api {
    /// AddSshKey: registers one of the caller's public keys.
    pub(crate) async fn add_ssh_key(
        &self,
        caller: &Caller,
        req: pb::AddSshKeyRequest,
    ) -> Result<pb::SshKey> {
        let parsed = parse_public_key(&req.public_key).map_err(|e| bad_field("public_key", e))?;
        let stored = StoredSshKey {
            id: parsed.id,
            owner: caller.name.clone(),
            fingerprint: parsed.fingerprint,
            public_key: parsed
                .key
                .to_openssh()
                .map_err(|e| bad_field("public_key", e.to_string()))?,
            created_at: super::now().seconds,
        };
        match self.store.add_ssh_key(&stored).await {
            Ok(()) => Ok(to_pb(stored)),
            Err(SshKeyError::Registered) => {
                Err(Status::already_exists(SshKeyError::Registered.to_string()))
            }
            Err(e @ SshKeyError::TooMany) => Err(Status::resource_exhausted(e.to_string())),
            Err(SshKeyError::Store(e)) => Err(e.into()),
        }
    }

    /// ListSshKeys: the caller's keys.
    pub(crate) async fn list_ssh_keys(
        &self,
        caller: &Caller,
        _req: pb::Empty,
    ) -> Result<pb::SshKeyList> {
        let keys = self.store.ssh_keys(&caller.name).await?;
        Ok(pb::SshKeyList {
            items: keys.into_iter().map(to_pb).collect(),
        })
    }

    /// RemoveSshKey: forgets one of the caller's keys; SSH sessions opened with it end.
    pub(crate) async fn remove_ssh_key(
        &self,
        caller: &Caller,
        req: pb::RemoveSshKeyRequest,
    ) -> Result<pb::Empty> {
        if req.id.is_empty() {
            return Err(bad_field(
                "id",
                "name the key (`cordium ssh-key list` shows ids)",
            ));
        }
        if self.store.remove_ssh_key(&caller.name, &req.id).await? {
            Ok(pb::Empty {})
        } else {
            Err(Status::not_found(format!(
                "SSH key `{}` not found",
                cordium_spec::shapes::shown(&req.id)
            )))
        }
    }

    /// GetSshEndpoint: whether and where SSH is served, with the host key.
    pub(crate) async fn get_ssh_endpoint(
        &self,
        _caller: &Caller,
        _req: pb::Empty,
    ) -> Result<pb::SshEndpoint> {
        Ok(self.ssh_endpoint.clone().unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ed25519_and_ecdsa_keys_are_accepted_others_are_refused() {
        let ed = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl alice@laptop";
        let parsed = parse_public_key(ed).expect("ed25519");
        assert!(parsed.fingerprint.starts_with("SHA256:"));
        assert_eq!(parsed.id.len(), 12);
        assert!(parse_public_key("ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ x").is_err());
        assert!(parse_public_key("-----BEGIN OPENSSH PRIVATE KEY-----").is_err());
        assert!(parse_public_key("hello").is_err());
        let (_, ecdsa) = crate::crypto::new_ssh_key("bob@x").expect("key");
        assert!(parse_public_key(&ecdsa).is_ok());
    }
}
