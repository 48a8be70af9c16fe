//! Building an image from a user's Dockerfile on the host's podman, and when not to.
//!
//! **Off unless the operator allows it** ([`PodmanOptions::allow_builds`](super::PodmanOptions),
//! `serve --podman-allow-builds`): the build runs as the host's root, and a base image's
//! `ONBUILD` triggers run in it where no check of the Dockerfile's text can see them (podman's
//! `image inspect` does not show them either): `ONBUILD RUN --network=host` reaches the host's
//! network on any podman, `ONBUILD RUN --mount` the host's files before 5.2.5 (CVE-2024-1753,
//! CVE-2024-9675). Allowed, a build is still held to what the text may ask
//! ([`cordium_spec::dockerfile`], checked at validation and again here, so a Dockerfile stored
//! before a rule existed is held to it too); its steps get no network at all (on the podman
//! bridge they reached the host's services and other users' workspaces, outside every egress
//! rule); and its base images are pulled again from their registries, without credentials
//! (`--pull=always`), never taken from the host's store, where another workspace's private
//! image, pulled with its owner's credentials, may be. (podman 4.3's build has no
//! `no-new-privileges`.)

use super::{Podman, last_line};
use crate::runtime::{RuntimeError, WorkspaceKey};

impl Podman {
    /// Builds `dockerfile` (with an empty context) as `localhost/cordium/<object name>`.
    pub(super) async fn build(
        &self,
        key: &WorkspaceKey,
        dockerfile: &str,
    ) -> Result<String, RuntimeError> {
        if !self.options.allow_builds {
            return Err(RuntimeError::ImageBuild {
                detail: BUILDS_OFF.to_owned(),
            });
        }
        cordium_spec::dockerfile::check(dockerfile).map_err(|(_, e)| RuntimeError::ImageBuild {
            detail: format!("the Dockerfile is refused: {}", e.message),
        })?;
        let tag = format!("localhost/cordium/{}:latest", key.object_name());
        let context = self.options.state_dir.join("build-context");
        let mut command = self.command();
        // No network for the steps, base images from their registries (see the module docs).
        command
            .args([
                "build",
                "--quiet",
                "--network",
                "none",
                "--pull=always",
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

/// Why a build fails on a server that does not allow them, and what to do instead.
const BUILDS_OFF: &str = "building images is off on this server: a build runs as the host's root \
     and a base image's ONBUILD triggers run in it unchecked; build and push the image elsewhere \
     and name it in `image.registry`, or ask the operator (`serve --podman-allow-builds`, for \
     installations whose users are trusted with the host)";
