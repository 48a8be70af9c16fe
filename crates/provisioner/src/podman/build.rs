//! Building an image from a user's Dockerfile on the host's podman, and when not to.
//!
//! The build runs as the host's root, outside the workspace's network rules (its egress hook
//! is for workspace containers), so its steps get no network at all: on the podman bridge they
//! reached the host's services and other users' workspaces. What a Dockerfile's text may ask
//! of the host's builder is checked at validation (`cordium_spec::shapes::check_dockerfile`);
//! what a base image asks (its `ONBUILD` triggers) no text check can see, so on a podman whose
//! builder lets a `RUN --mount` reach the host (before [`PATCHED_BUILDS`]) nothing is built unless the
//! operator allows it ([`PodmanOptions::unpatched_builds`](super::PodmanOptions)). (podman
//! 4.3's build has no `no-new-privileges`.)

use super::{Podman, last_line};
use crate::runtime::{RuntimeError, WorkspaceKey};

/// The first podman version whose builder keeps `RUN --mount` inside the build: bind mount
/// sources resolved in the build (CVE-2024-1753, fixed in 4.9.4) and cache ids kept inside the
/// cache (CVE-2024-9675, fixed in 5.2.5). A distribution's podman with the fixes backported
/// under an older version number is not recognised: its operator passes the flag.
pub const PATCHED_BUILDS: (u32, u32, u32) = (5, 2, 5);

/// Whether a podman of `version` (`X.Y.Z`, as `podman version` prints it) may build users'
/// Dockerfiles; else why not.
pub fn builds_allowed(version: &str, unpatched_builds: bool) -> Result<(), String> {
    let mut parts = version
        .trim()
        .split(['.', '-', '+'])
        .map(|p| p.parse::<u32>().ok());
    let parsed = match (parts.next(), parts.next(), parts.next()) {
        (Some(Some(a)), Some(Some(b)), Some(Some(c))) => Some((a, b, c)),
        _ => None,
    };
    if unpatched_builds || parsed.is_some_and(|v| v >= PATCHED_BUILDS) {
        return Ok(());
    }
    let (a, b, c) = PATCHED_BUILDS;
    Err(format!(
        "building images is off on this server: its podman {} is older than {a}.{b}.{c}, whose \
         builder lets a Dockerfile reach the host (CVE-2024-1753, CVE-2024-9675); use a prebuilt image \
         (`image.registry`), or ask the operator to upgrade podman",
        version.trim()
    ))
}

impl Podman {
    /// Builds `dockerfile` (with an empty context) as `localhost/cordium/<object name>`.
    pub(super) async fn build(
        &self,
        key: &WorkspaceKey,
        dockerfile: &str,
    ) -> Result<String, RuntimeError> {
        let version = self
            .run(&["version", "--format", "{{.Client.Version}}"], None)
            .await?;
        builds_allowed(&version, self.options.unpatched_builds)
            .map_err(|detail| RuntimeError::ImageBuild { detail })?;
        let tag = format!("localhost/cordium/{}:latest", key.object_name());
        let context = self.options.state_dir.join("build-context");
        let mut command = self.command();
        // No network for the steps (see the module docs).
        command
            .args([
                "build",
                "--quiet",
                "--network",
                "none",
                "--tag",
                &tag,
                "--file",
                "-",
            ])
            .arg(&context);
        let out = self.output(command, Some(dockerfile.as_bytes())).await?;
        if out.status.success() {
            Ok(tag)
        } else {
            Err(RuntimeError::ImageBuild {
                detail: last_line(&out.stderr),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::builds_allowed;

    #[test]
    fn builds_need_a_patched_podman_unless_allowed() {
        assert!(builds_allowed("5.2.5", false).is_ok());
        assert!(builds_allowed("5.3.0\n", false).is_ok());
        assert!(builds_allowed("5.10.0-dev", false).is_ok());
        let refused = builds_allowed("4.3.1", false).expect_err("Debian 12's podman");
        assert!(
            refused.contains("podman 4.3.1 is older than 5.2.5")
                && refused.contains("CVE-2024-1753")
        );
        // Past the first fix, before the second (cache mounts).
        assert!(builds_allowed("4.9.4", false).is_err());
        assert!(builds_allowed("5.2.4", false).is_err());
        assert!(
            builds_allowed("garbage", false).is_err(),
            "an unknown version is not trusted"
        );
        assert!(builds_allowed("4.3.1", true).is_ok());
    }
}
