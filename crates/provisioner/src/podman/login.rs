//! Registry logins for pulls: a credentials file of its own per pull (mode 0600), removed
//! when the pull ends, even if it is cancelled.

use super::{Podman, engine};
use crate::runtime::{Login, RuntimeError, registry_host};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::io::AsyncWriteExt;

impl Podman {
    /// Writes `login` for `image`'s registry to a file of its own (mode 0600), removed when
    /// the returned guard drops, even if the pull is cancelled.
    pub(super) async fn write_login(
        &self,
        image: &str,
        login: &Login,
    ) -> Result<AuthFile, RuntimeError> {
        use base64::Engine as _;
        let registry = registry_host(image);
        let auth = base64::engine::general_purpose::STANDARD
            .encode(format!("{}:{}", login.username, login.password.expose()).as_bytes());
        let json = format!(
            "{{\"auths\":{{{}:{{\"auth\":\"{auth}\"}}}}}}",
            json_string(registry)
        );
        // One file per pull: two users pulling the same image never share credentials.
        static PULLS: AtomicU64 = AtomicU64::new(0);
        let dir = self.options.state_dir.join("auth");
        let path = dir.join(format!(
            "pull-{}-{}.json",
            std::process::id(),
            PULLS.fetch_add(1, Ordering::Relaxed)
        ));
        let file = AuthFile(path);
        write_private(&dir, &file.0, json.as_bytes())
            .await
            .map_err(|e| engine("writing registry credentials", e.to_string()))?;
        Ok(file)
    }
}

/// A registry credentials file, removed when dropped.
pub(super) struct AuthFile(pub(super) PathBuf);

impl Drop for AuthFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
        let _ = std::fs::remove_file(self.0.with_extension("tmp"));
    }
}

/// `s` as a JSON string.
fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Writes `data` to `path` with mode 0600, replacing it atomically.
async fn write_private(dir: &Path, path: &Path, data: &[u8]) -> std::io::Result<()> {
    tokio::fs::create_dir_all(dir).await?;
    let tmp = path.with_extension("tmp");
    let mut options = tokio::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    options.mode(0o600);
    let mut file = options.open(&tmp).await?;
    file.write_all(data).await?;
    file.sync_all().await?;
    tokio::fs::rename(&tmp, path).await
}
