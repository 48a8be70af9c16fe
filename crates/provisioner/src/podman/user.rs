//! Who runs a workspace's processes: the workspace user (uid 1000) or container root.
//!
//! Every process of a workspace runs as the workspace user, uid [`WORKSPACE_UID`]: the main
//! command (the container's `--user`), tasks, executions, shells and SSH sessions; only
//! `runAsRoot` tasks (and root executions) run as container root, which the user namespace
//! maps to an unprivileged host uid. The user is the image's own user with uid 1000 when it
//! has one (its name, primary group and home), else `cordium` (uid and gid 1000, home
//! `/home/cordium`), which podman adds to the container's `/etc/passwd` (`--passwd-entry`).
//! HOME is a volume of its own (`N-home`), so it survives a re-created container and stays
//! writable under a read-only root. A fresh container also gets group 1000 when the image
//! has none, passwordless sudo when the image has `sudo`, and `/workspace` owned by the user.

use super::shell_quote;

/// The workspace user's uid.
pub const WORKSPACE_UID: u32 = 1000;
/// The name of the workspace user Cordium creates when the image has no uid 1000.
pub const WORKSPACE_USER: &str = "cordium";
/// The most of an image's `/etc/passwd` that is read.
const MAX_PASSWD_BYTES: u64 = 1024 * 1024;

/// Which user runs a process in a workspace's container. The one decision every way into a
/// container goes through (main command, tasks, exec, shell, SSH): call
/// [`ProcessUser::of`] and pass [`ProcessUser::exec_args`] to `podman exec`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcessUser {
    /// The workspace user (uid 1000, its HOME from the container's environment).
    Workspace,
    /// Container root (`runAsRoot` tasks), HOME `/root`.
    Root,
}

impl ProcessUser {
    /// The user of a process that asks for root (`runAsRoot`) or not.
    pub fn of(as_root: bool) -> Self {
        if as_root {
            ProcessUser::Root
        } else {
            ProcessUser::Workspace
        }
    }

    /// The `podman exec` arguments that run a process as this user. They come before the
    /// process's own `--env`, so a variable it sets itself (HOME too) wins.
    pub fn exec_args(self) -> &'static [&'static str] {
        match self {
            ProcessUser::Workspace => &["--user", "1000"],
            ProcessUser::Root => &["--user", "0:0", "--env", "HOME=/root"],
        }
    }
}

/// The workspace user of an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkspaceUser {
    /// Its name.
    pub name: String,
    /// Its primary group.
    pub gid: u32,
    /// Its home directory (HOME).
    pub home: String,
    /// The image has it (otherwise podman adds it with `--passwd-entry`).
    pub in_image: bool,
}

impl WorkspaceUser {
    /// The workspace user of an image whose `/etc/passwd` is `passwd` (empty when it has
    /// none): its uid-1000 user, else [`WORKSPACE_USER`].
    pub fn from_passwd(passwd: &str) -> Self {
        for line in passwd.lines() {
            let fields: Vec<&str> = line.split(':').collect();
            if let [name, _, uid, gid, _, home, ..] = fields[..]
                && uid.parse() == Ok(WORKSPACE_UID)
                && let Ok(gid) = gid.parse()
                && !name.is_empty()
                && home.starts_with('/')
            {
                return Self {
                    name: name.to_owned(),
                    gid,
                    home: home.to_owned(),
                    in_image: true,
                };
            }
        }
        Self {
            name: WORKSPACE_USER.to_owned(),
            gid: WORKSPACE_UID,
            home: format!("/home/{WORKSPACE_USER}"),
            in_image: false,
        }
    }

    /// The `podman run` arguments of the main process: this user, its HOME on `home_volume`.
    pub fn run_args(&self, home_volume: &str) -> Vec<String> {
        let mut args = vec![
            "--user".to_owned(),
            format!("{WORKSPACE_UID}:{}", self.gid),
            "--env".to_owned(),
            format!("HOME={}", self.home),
            "--volume".to_owned(),
            format!("{home_volume}:{}", self.home),
        ];
        if !self.in_image {
            args.push("--passwd-entry".to_owned());
            args.push(format!(
                "{}:*:{WORKSPACE_UID}:{}:Cordium workspace user:{}:/bin/sh",
                self.name, self.gid, self.home
            ));
        }
        args
    }

    /// The script container root runs once in a new container: group 1000 when missing,
    /// passwordless sudo when the image has `sudo`, `/workspace` owned by the user. Each step
    /// is best effort (a read-only root refuses the first two).
    pub fn setup_script(&self) -> String {
        let name = shell_quote(&self.name);
        format!(
            "grep -q '^[^:]*:[^:]*:{gid}:' /etc/group 2>/dev/null || \
             echo {name}:x:{gid}: >> /etc/group 2>/dev/null; \
             if command -v sudo >/dev/null 2>&1; then mkdir -p /etc/sudoers.d && \
             echo {name}' ALL=(ALL) NOPASSWD:ALL' > /etc/sudoers.d/cordium && \
             chmod 0440 /etc/sudoers.d/cordium; fi 2>/dev/null; \
             chown {WORKSPACE_UID}:{gid} /workspace {home}; true",
            gid = self.gid,
            home = shell_quote(&self.home),
        )
    }
}

impl super::Podman {
    /// The workspace user of `image`, read from its `/etc/passwd` (`podman image mount`).
    pub(super) async fn image_user(
        &self,
        image: &str,
    ) -> Result<WorkspaceUser, super::RuntimeError> {
        let root = self.run(&["image", "mount", image], None).await?;
        let passwd = std::path::Path::new(root.trim()).join("etc/passwd");
        let text = read_limited(&passwd).await;
        let _ = self.run(&["image", "unmount", image], None).await;
        Ok(WorkspaceUser::from_passwd(&text))
    }
}

/// The first [`MAX_PASSWD_BYTES`] of `path`, empty when it cannot be read.
async fn read_limited(path: &std::path::Path) -> String {
    use tokio::io::AsyncReadExt as _;
    let Ok(file) = tokio::fs::File::open(path).await else {
        return String::new();
    };
    let mut bytes = Vec::new();
    let _ = file.take(MAX_PASSWD_BYTES).read_to_end(&mut bytes).await;
    String::from_utf8_lossy(&bytes).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_images_uid_1000_user_is_the_workspace_user() {
        let passwd = "root:x:0:0:root:/root:/bin/sh\nnode:x:1000:1001::/home/node:/bin/bash\n";
        let user = WorkspaceUser::from_passwd(passwd);
        assert_eq!(
            user,
            WorkspaceUser {
                name: "node".into(),
                gid: 1001,
                home: "/home/node".into(),
                in_image: true
            }
        );
        assert!(!user.run_args("v").contains(&"--passwd-entry".to_owned()));
    }

    #[test]
    fn without_one_cordium_is_added() {
        for passwd in ["root:x:0:0:root:/root:/bin/sh\n", "", "broken:1000\n"] {
            let user = WorkspaceUser::from_passwd(passwd);
            assert_eq!(
                (user.name.as_str(), user.gid, user.home.as_str()),
                ("cordium", 1000, "/home/cordium")
            );
            let args = user.run_args("cdm-x-home");
            assert!(
                args.contains(
                    &"cordium:*:1000:1000:Cordium workspace user:/home/cordium:/bin/sh".to_owned()
                ),
                "{args:?}"
            );
            assert!(args.contains(&"cdm-x-home:/home/cordium".to_owned()));
        }
    }

    #[test]
    fn root_processes_get_roots_home() {
        assert_eq!(
            ProcessUser::of(true).exec_args(),
            ["--user", "0:0", "--env", "HOME=/root"]
        );
        assert_eq!(ProcessUser::of(false).exec_args(), ["--user", "1000"]);
    }
}
