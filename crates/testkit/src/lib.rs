//! Test support shared by Cordium's tests and benches.
//!
//! [`lab`] sets up, once per process, what the podman end-to-end tests need without the
//! internet: a busybox-static root filesystem imported with `podman import` as a small image,
//! pushed to a private `docker-registry` (Debian's package) started on 127.0.0.1 on a free
//! port, so every pull is a real registry pull. The registry runs under a shell that kills it
//! when this process's end of a pipe closes, so nothing outlives the tests. podman, runc,
//! busybox-static and docker-registry are required (`.ci/run` installs them): the lab panics
//! with the install command when one is missing, so the tests fail rather than skip.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test support"
)]

use cordium_provisioner::podman::{Podman, PodmanOptions};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The podman lab. See the [crate docs](crate).
#[derive(Debug)]
pub struct Lab {
    /// The test image in the registry: `127.0.0.1:PORT/cordium-test/busybox:1`.
    pub image: String,
    /// The registry, `127.0.0.1:PORT` (plain HTTP).
    pub registry: String,
    state: tempfile::TempDir,
    _registry_guard: std::process::ChildStdin,
    _dir: tempfile::TempDir,
}

impl Lab {
    /// The podman backend's options for this lab: its state directory, the registry as
    /// insecure, the test image as the default image.
    pub fn podman_options(&self) -> PodmanOptions {
        let mut options = PodmanOptions::new(self.state.path());
        options.insecure_registries = vec![self.registry.clone()];
        options.default_image = self.image.clone();
        options
    }

    /// The state directory the podman backend writes its configuration into.
    pub fn state_dir(&self) -> &Path {
        self.state.path()
    }

    /// The `containers.conf` every podman call of the lab uses.
    pub fn containers_conf(&self) -> PathBuf {
        self.state.path().join("containers.conf")
    }

    /// A `podman` command configured like the backend's.
    pub fn podman(&self) -> Command {
        let mut c = Command::new("podman");
        c.env("CONTAINERS_CONF", self.containers_conf());
        c
    }
}

/// Runs `cmd`; panics with its stderr unless it succeeds; returns its stdout.
pub fn run(cmd: &mut Command, what: &str) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run: {e}"));
    assert!(
        out.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// The lab, set up on first use.
pub fn lab() -> &'static Lab {
    static LAB: OnceLock<Lab> = OnceLock::new();
    LAB.get_or_init(set_up)
}

fn set_up() -> Lab {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = tempfile::tempdir().expect("tempdir");
    // Writes containers.conf (runc, ulimits) exactly as the server does.
    Podman::new(PodmanOptions::new(state.path())).expect("podman configuration");
    let conf = state.path().join("containers.conf");
    let podman = || {
        let mut c = Command::new("podman");
        c.env("CONTAINERS_CONF", &conf);
        c
    };

    // The image: busybox-static with every applet linked.
    let rootfs = dir.path().join("rootfs");
    for d in ["bin", "tmp", "root", "etc"] {
        std::fs::create_dir_all(rootfs.join(d)).expect("mkdir");
    }
    std::fs::copy("/bin/busybox", rootfs.join("bin/busybox"))
        .expect("/bin/busybox (apt-get install busybox-static)");
    let applets = run(Command::new("/bin/busybox").arg("--list"), "busybox --list");
    for applet in applets.lines().filter(|a| *a != "busybox") {
        let _ = std::os::unix::fs::symlink("busybox", rootfs.join("bin").join(applet));
    }
    std::fs::write(rootfs.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n").expect("passwd");
    let tar = dir.path().join("rootfs.tar");
    run(
        Command::new("tar")
            .arg("-C")
            .arg(&rootfs)
            .arg("-cf")
            .arg(&tar)
            .arg("."),
        "tar",
    );
    run(
        podman()
            .args([
                "import",
                "--change",
                "ENV PATH=/bin",
                "--change",
                "ENV HOME=/root",
            ])
            .arg(&tar)
            .arg("localhost/cordium-test/busybox:1"),
        "podman import (apt-get install podman runc)",
    );

    // The registry.
    let registry = format!("127.0.0.1:{}", free_port());
    let config = dir.path().join("registry.yml");
    std::fs::write(
        &config,
        format!(
            "version: 0.1\nlog: {{level: error}}\nstorage:\n  filesystem: {{rootdirectory: {}}}\n  delete: {{enabled: true}}\nhttp: {{addr: \"{registry}\"}}\n",
            dir.path().join("registry-data").display()
        ),
    )
    .expect("registry config");
    #[allow(clippy::zombie_processes, reason = "the shell ends with this process")]
    let mut guard = Command::new("sh")
        .arg("-c")
        .arg("docker-registry serve \"$1\" >/dev/null 2>&1 & pid=$!; read _; kill $pid")
        .arg("sh")
        .arg(&config)
        .stdin(Stdio::piped())
        .spawn()
        .expect("sh");
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(&registry).is_err() {
        assert!(
            Instant::now() < deadline,
            "the registry did not start (apt-get install docker-registry)"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let image = format!("{registry}/cordium-test/busybox:1");
    run(
        podman()
            .args(["push", "--quiet", "--tls-verify=false"])
            .arg("localhost/cordium-test/busybox:1")
            .arg(&image),
        "podman push",
    );
    Lab {
        image,
        registry,
        state,
        _registry_guard: guard.stdin.take().expect("stdin"),
        _dir: dir,
    }
}
