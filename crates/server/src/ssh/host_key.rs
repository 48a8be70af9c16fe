//! The server's SSH host key: an ed25519 key generated once, kept in the data directory
//! (mode 0600) in OpenSSH's private key format, so clients that trusted it keep trusting the
//! server across restarts.

use super::SshError;
use russh::keys::ssh_key::LineEnding;
use russh::keys::ssh_key::private::Ed25519Keypair;
use russh::keys::{HashAlg, PrivateKey};
use std::io::Write as _;
use std::path::Path;

/// The host key's file name in the data directory (OpenSSH's name for it).
pub const HOST_KEY_FILE: &str = "ssh_host_ed25519_key";

/// Loads the host key at `path`, creating it (mode 0600) when it does not exist, and narrows
/// the file's mode to 0600 when it is wider.
pub fn load_or_create(path: &Path) -> Result<PrivateKey, SshError> {
    use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
    let io = |source| SshError::HostKeyFile {
        path: path.display().to_string(),
        source,
    };
    match std::fs::read_to_string(path) {
        Ok(text) => {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(io)?;
            PrivateKey::from_openssh(text.as_bytes()).map_err(|e| SshError::HostKeyFormat {
                path: path.display().to_string(),
                detail: e.to_string(),
            })
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut seed = [0u8; 32];
            getrandom::fill(&mut seed).map_err(|e| SshError::Random(e.to_string()))?;
            let mut key = PrivateKey::from(Ed25519Keypair::from_seed(&seed));
            key.set_comment("cordium-server");
            let text = key
                .to_openssh(LineEnding::LF)
                .map_err(|e| SshError::HostKeyFormat {
                    path: path.display().to_string(),
                    detail: e.to_string(),
                })?;
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
                .map_err(io)?;
            file.write_all(text.as_bytes()).map_err(io)?;
            file.sync_all().map_err(io)?;
            Ok(key)
        }
        Err(e) => Err(io(e)),
    }
}

/// `SHA256:...`, as `ssh-keygen -l` and OpenSSH's first-connection prompt print it.
pub fn fingerprint(key: &PrivateKey) -> String {
    key.public_key().fingerprint(HashAlg::Sha256).to_string()
}

/// The public key's OpenSSH line (`ssh-ed25519 AAAA... cordium-server`).
pub fn public_line(key: &PrivateKey) -> String {
    key.public_key().to_openssh().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_host_key_is_made_once_and_kept_private() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(HOST_KEY_FILE);
        let first = load_or_create(&path).expect("create");
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let again = load_or_create(&path).expect("load");
        assert_eq!(fingerprint(&first), fingerprint(&again));
        assert!(public_line(&first).starts_with("ssh-ed25519 "));
    }
}
