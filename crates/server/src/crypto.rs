//! Secrets at rest, API tokens and SSH keys.
//!
//! Secret values are sealed with ChaCha20-Poly1305 under a key kept outside the database (a
//! 32-byte file, mode 0600, created on first start); the resource's identity is the associated
//! data, so a ciphertext cannot be moved to another secret. API tokens are stored as SHA-256
//! hashes only.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Nonce};
use sha2::{Digest, Sha256};
use std::io::Write as _;
use std::path::Path;

/// Problems with keys and sealed values.
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    /// The key file could not be read or written.
    #[error("secret key file {path}: {source}")]
    KeyFile {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The key file does not hold 32 bytes.
    #[error("secret key file {0} must hold exactly 32 bytes")]
    KeyLength(String),
    /// The system's random source failed.
    #[error("no randomness available: {0}")]
    Random(String),
    /// A sealed value did not open (wrong key, or tampered).
    #[error("a sealed value could not be opened")]
    Open,
}

/// The identity a secret value is sealed under (its associated data): `<Kind>/<scope>/<name>`,
/// e.g. `Secret/<space>/<name>` or `UserSecret/<owner>/<name>`. Sealing and opening must agree
/// byte for byte, so this is the only place that spells it (values already stored open with it).
pub fn sealing_identity(kind: cordium_spec::Kind, scope: &str, name: &str) -> String {
    format!("{}/{scope}/{name}", kind.as_str())
}

/// The identity a connected git account's tokens are sealed under:
/// `GitConnection/<owner>/<space>/<provider>/<which>` (`which`: `access` or `refresh`), so a
/// sealed token opens only as the token of that user's connection it was sealed for.
pub fn git_token_identity(owner: &str, space: &str, provider: &str, which: &str) -> String {
    format!("GitConnection/{owner}/{space}/{provider}/{which}")
}

fn random<const N: usize>() -> Result<[u8; N], CryptoError> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|e| CryptoError::Random(e.to_string()))?;
    Ok(bytes)
}

/// The identity an OAuth flow (a git connection's or a GitHub sign-in's, sealed into the
/// Begin's answer and brought back by the client) is sealed under: its `state`, so a flow
/// sealed for one state is no flow for another. Sealed by [`SecretBox::flows`], a key of its
/// own, so what unauthenticated callers make the server seal never uses the key of values at
/// rest.
pub fn flow_identity(state: &str) -> String {
    format!("git-flow\n{state}")
}

/// Seals and opens secret values.
#[derive(Clone)]
pub struct SecretBox {
    cipher: ChaCha20Poly1305,
    /// The key of sealed OAuth flows: derived from the file's key, never the same.
    flows: ChaCha20Poly1305,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox(..)")
    }
}

impl SecretBox {
    /// Loads the key at `path`, creating it (mode 0600) when it does not exist.
    pub fn load_or_create(path: &Path) -> Result<Self, CryptoError> {
        let name = path.display().to_string();
        let io = |source| CryptoError::KeyFile {
            path: name.clone(),
            source,
        };
        let key = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = random::<32>()?;
                let mut options = std::fs::OpenOptions::new();
                options.write(true).create_new(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
                let mut file = options.open(path).map_err(io)?;
                file.write_all(&key).map_err(io)?;
                file.sync_all().map_err(io)?;
                key.to_vec()
            }
            Err(e) => return Err(io(e)),
        };
        let cipher = ChaCha20Poly1305::new_from_slice(&key)
            .map_err(|_| CryptoError::KeyLength(name.clone()))?;
        // A hash of the random key under a label of its own: another uniformly random key.
        let derived = Sha256::new()
            .chain_update(b"cordium sealed oauth flows v1\0")
            .chain_update(&key)
            .finalize();
        let flows = ChaCha20Poly1305::new_from_slice(&derived)
            .map_err(|_| CryptoError::KeyLength(name.clone()))?;
        Ok(Self { cipher, flows })
    }

    /// The same seal and open, under the key of sealed OAuth flows (see [`flow_identity`]).
    pub fn flows(&self) -> Self {
        Self {
            cipher: self.flows.clone(),
            flows: self.flows.clone(),
        }
    }

    /// Seals `plaintext` bound to `identity` (kind, scope and name of the secret).
    pub fn seal(&self, plaintext: &[u8], identity: &str) -> Result<Vec<u8>, CryptoError> {
        let nonce_bytes = random::<12>()?;
        let nonce = Nonce::from(nonce_bytes);
        let sealed = self
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext,
                    aad: identity.as_bytes(),
                },
            )
            .map_err(|_| CryptoError::Open)?;
        let mut out = nonce_bytes.to_vec();
        out.extend(sealed);
        Ok(out)
    }

    /// Opens a value sealed for `identity`.
    pub fn open(&self, sealed: &[u8], identity: &str) -> Result<Vec<u8>, CryptoError> {
        if sealed.len() < 12 {
            return Err(CryptoError::Open);
        }
        let (nonce, body) = sealed.split_at(12);
        let nonce: [u8; 12] = nonce.try_into().map_err(|_| CryptoError::Open)?;
        self.cipher
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: body,
                    aad: identity.as_bytes(),
                },
            )
            .map_err(|_| CryptoError::Open)
    }
}

/// A new API token: `cdm_` and 43 characters of base64url (256 random bits).
pub fn new_token() -> Result<String, CryptoError> {
    use base64::Engine as _;
    Ok(format!(
        "cdm_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random::<32>()?)
    ))
}

/// The stored form of a token: hex SHA-256.
pub fn hash_token(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

/// Lowercase hexadecimal: every call authenticates by a token's hash, so this is a table
/// lookup per nibble rather than a `format!` per byte.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(2 * bytes.len());
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    out
}

/// A new ECDSA P-256 key pair: the private scalar (32 bytes, to be sealed) and the public key
/// in OpenSSH format (`ecdsa-sha2-nistp256 AAAA...`).
pub fn new_ssh_key(comment: &str) -> Result<(Vec<u8>, String), CryptoError> {
    use base64::Engine as _;
    let secret = loop {
        if let Ok(key) = p256::SecretKey::from_slice(&random::<32>()?) {
            break key;
        }
    };
    let public = format!(
        "ecdsa-sha2-nistp256 {} {comment}",
        base64::engine::general_purpose::STANDARD.encode(ssh_public_blob(&secret))
    );
    Ok((secret.to_bytes().to_vec(), public))
}

/// The SSH wire form (RFC 5656) of an ECDSA P-256 key's public half: what a `.pub` line holds
/// in base64, and what an SSH agent lists.
pub fn ssh_public_blob(secret: &p256::SecretKey) -> Vec<u8> {
    let point = secret.public_key().to_sec1_bytes();
    let mut blob = Vec::new();
    for part in [
        b"ecdsa-sha2-nistp256".as_slice(),
        b"nistp256".as_slice(),
        &point,
    ] {
        put_string(&mut blob, part);
    }
    blob
}

/// Appends `bytes` as an SSH `string` (a 32-bit big-endian length, then the bytes).
pub fn put_string(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend(u32::try_from(bytes.len()).unwrap_or(u32::MAX).to_be_bytes());
    out.extend(bytes);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_is_lowercase_two_digits_per_byte() {
        assert_eq!(hex(&[0x00, 0x0f, 0xa0, 0xff]), "000fa0ff");
        assert_eq!(
            hash_token("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
            "SHA-256 of `abc` (FIPS 180-2)"
        );
    }

    #[test]
    fn sealed_values_open_only_for_their_identity() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("key");
        let sb = SecretBox::load_or_create(&path).expect("key");
        let sealed = sb.seal(b"hunter2", "Secret/space/db").expect("seal");
        assert!(!sealed.windows(7).any(|w| w == b"hunter2"));
        assert_eq!(
            sb.open(&sealed, "Secret/space/db").expect("open"),
            b"hunter2"
        );
        assert!(sb.open(&sealed, "Secret/space/other").is_err());
        let again = SecretBox::load_or_create(&path).expect("reload");
        assert_eq!(
            again.open(&sealed, "Secret/space/db").expect("open"),
            b"hunter2"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn tokens_are_random_and_hashed() {
        let (a, b) = (new_token().expect("a"), new_token().expect("b"));
        assert_ne!(a, b);
        assert_eq!(hash_token(&a).len(), 64);
        assert_ne!(hash_token(&a), hash_token(&b));
    }

    #[test]
    fn ssh_public_keys_have_the_openssh_shape() {
        let (private, public) = new_ssh_key("alice@cordium").expect("key");
        assert_eq!(private.len(), 32);
        assert!(public.starts_with("ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTY"));
        assert!(public.ends_with(" alice@cordium"));
    }
}
