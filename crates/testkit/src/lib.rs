//! Test support shared by Cordium's tests and benches.
//!
//! [`lab`] sets up, once per process, what the podman end-to-end tests need without the
//! internet: a busybox-static root filesystem imported with `podman import` as a small image,
//! pushed to a private `docker-registry` (Debian's package) started on 127.0.0.1 on a free
//! port, so every pull is a real registry pull. The registry runs under a shell that kills it
//! when this process's end of a pipe closes, so nothing outlives the tests. podman, runc,
//! busybox-static and docker-registry are required (`.ci/run` installs them): the lab panics
//! with the install command when one is missing, so the tests fail rather than skip.
//!
//! For clone tests the lab also has, each set up on first use:
//! - [`Lab::git_server`]: git's smart HTTP (`git http-backend`) behind a small python3 HTTPS
//!   server on `0.0.0.0`, reached by containers through podman's bridge gateway, with a
//!   self-signed certificate for that address; repositories under `/private/` need basic
//!   authentication;
//! - [`Lab::git_image`]: the busybox image plus the host's `git`, `git-remote-http` and every
//!   shared library they load, trusting the git server's certificate;
//! - [`Lab::auth_registry`]: a second registry serving the same storage behind htpasswd
//!   (bcrypt through python3's `crypt`) authentication.
//!
//! - [`Lab::ssh_image`]: the busybox image plus the host's OpenSSH client, `sftp-server` and
//!   rsync (apt-get install openssh-client openssh-sftp-server rsync).
//!
//! git, python3 and openssl are required for those.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test support"
)]

pub mod oidc;

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
    registry_data: PathBuf,
    auth_registry_addr: String,
    _registry_guard: std::process::ChildStdin,
    _dir: tempfile::TempDir,
    git_server: OnceLock<GitServer>,
    git_image: OnceLock<String>,
    ssh_image: OnceLock<String>,
    auth_registry: OnceLock<AuthRegistry>,
}

/// A git server over HTTPS (see the [crate docs](crate)).
#[derive(Debug)]
pub struct GitServer {
    /// Its base URL as containers reach it, `https://GATEWAY:PORT`.
    pub url: String,
    /// The user name of `/private/` repositories.
    pub username: String,
    /// Their password.
    pub password: String,
    /// The certificate (PEM) containers must trust.
    pub certificate: PathBuf,
    root: PathBuf,
    _guard: std::process::ChildStdin,
    _dir: tempfile::TempDir,
}

impl GitServer {
    /// Creates the bare repository `path` (e.g. `public/app.git`) from the history `script`
    /// makes: it runs with `sh -c` in a new repository (branch `main`) with a fixed author, and
    /// may use `commit MESSAGE` (adds every file and commits). Returns its URL.
    pub fn repository(&self, path: &str, script: &str) -> String {
        let work = tempfile::tempdir().expect("tempdir");
        let git = |c: &mut Command| {
            c.env("GIT_AUTHOR_NAME", "Test")
                .env("GIT_AUTHOR_EMAIL", "test@example.com")
                .env("GIT_COMMITTER_NAME", "Test")
                .env("GIT_COMMITTER_EMAIL", "test@example.com")
                .env("GIT_CONFIG_NOSYSTEM", "1")
                .env("GIT_CONFIG_GLOBAL", "/dev/null");
        };
        let mut init = Command::new("git");
        git(&mut init);
        run(
            init.args(["init", "--quiet", "--initial-branch", "main"])
                .arg(work.path()),
            "git init (apt-get install git)",
        );
        let mut sh = Command::new("sh");
        git(&mut sh);
        run(
            sh.current_dir(work.path()).arg("-c").arg(format!(
                "set -e; commit() {{ git add -A && git commit --quiet --allow-empty -m \"$1\"; }}; {script}"
            )),
            "the repository's history script",
        );
        let bare = self.root.join(path);
        let mut clone = Command::new("git");
        git(&mut clone);
        run(
            clone
                .args(["clone", "--quiet", "--bare"])
                .arg(work.path())
                .arg(&bare),
            "git clone --bare",
        );
        format!("{}/{path}", self.url)
    }

    /// The commit `rev` names in the repository `path`.
    pub fn rev_parse(&self, path: &str, rev: &str) -> String {
        run(
            Command::new("git")
                .arg("--git-dir")
                .arg(self.root.join(path))
                .args(["rev-parse", rev]),
            "git rev-parse",
        )
        .trim()
        .to_owned()
    }
}

/// A registry requiring basic authentication (see the [crate docs](crate)).
#[derive(Debug)]
pub struct AuthRegistry {
    /// `127.0.0.1:PORT` (plain HTTP).
    pub registry: String,
    /// The lab's test image in it.
    pub image: String,
    /// The user name.
    pub username: String,
    /// The password.
    pub password: String,
    _guard: std::process::ChildStdin,
    _dir: tempfile::TempDir,
}

impl Lab {
    /// The podman backend's options for this lab: its state directory, the registries as
    /// insecure, the test image as the default image.
    pub fn podman_options(&self) -> PodmanOptions {
        let mut options = PodmanOptions::new(self.state.path());
        // Both registries, always: every backend rewrites the shared registries.conf.
        options.insecure_registries = vec![self.registry.clone(), self.auth_registry_addr.clone()];
        options.default_image = self.image.clone();
        // The lab's users are its tests: its podman (Debian 12's 4.3) builds their Dockerfiles.
        options.allow_builds = true;
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
        podman_command(&self.containers_conf())
    }

    /// The git server, started on first use.
    pub fn git_server(&self) -> &GitServer {
        self.git_server.get_or_init(|| start_git_server(self))
    }

    /// The image with git (`REGISTRY/cordium-test/git:1`), built and pushed on first use.
    pub fn git_image(&self) -> &str {
        self.git_image.get_or_init(|| build_git_image(self))
    }

    /// The address of podman's bridge gateway: how containers reach a server on this host.
    pub fn gateway(&self) -> String {
        let gateway = run(
            self.podman().args([
                "network",
                "inspect",
                "podman",
                "--format",
                "{{range .Subnets}}{{.Gateway}}{{end}}",
            ]),
            "podman network inspect podman",
        )
        .trim()
        .to_owned();
        assert!(!gateway.is_empty(), "podman's network has no gateway");
        gateway
    }

    /// The image with OpenSSH's `ssh`, `ssh-add` and `sftp-server`, and rsync, each with its
    /// libraries (`REGISTRY/cordium-test/ssh:1`), built and pushed on first use.
    pub fn ssh_image(&self) -> &str {
        self.ssh_image.get_or_init(|| {
            let dir = tempfile::tempdir().expect("tempdir");
            let rootfs = dir.path().join("rootfs");
            busybox_rootfs(&rootfs);
            for tool in [
                "/usr/bin/ssh",
                "/usr/bin/ssh-add",
                "/usr/lib/openssh/sftp-server",
                "/usr/bin/rsync",
            ] {
                copy_with_libraries(&rootfs, Path::new(tool));
            }
            publish_image(
                &self.containers_conf(),
                &rootfs,
                "ssh",
                &[
                    "ENV PATH=/bin:/usr/bin".to_owned(),
                    "ENV HOME=/root".to_owned(),
                ],
                &self.registry,
            )
        })
    }

    /// The registry with authentication, started on first use.
    pub fn auth_registry(&self) -> &AuthRegistry {
        self.auth_registry.get_or_init(|| start_auth_registry(self))
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

/// The test image's root filesystem: busybox-static with every applet linked.
fn busybox_rootfs(rootfs: &Path) {
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
    // As every distribution has it: workspace processes are not root.
    std::fs::set_permissions(
        rootfs.join("tmp"),
        std::os::unix::fs::PermissionsExt::from_mode(0o1777),
    )
    .expect("chmod /tmp");
}

fn set_up() -> Lab {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = tempfile::tempdir().expect("tempdir");
    // Writes containers.conf (runc, ulimits) exactly as the server does.
    Podman::new(PodmanOptions::new(state.path())).expect("podman configuration");
    let conf = state.path().join("containers.conf");

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
    let guard = serve(
        "docker-registry serve \"$1\" >/dev/null 2>&1",
        &[&config],
        &[],
        &registry,
        "the registry (apt-get install docker-registry)",
    );

    // The image: busybox-static with every applet linked.
    let rootfs = dir.path().join("rootfs");
    busybox_rootfs(&rootfs);
    let image = publish_image(
        &conf,
        &rootfs,
        "busybox",
        &["ENV PATH=/bin".to_owned(), "ENV HOME=/root".to_owned()],
        &registry,
    );
    Lab {
        image,
        registry,
        state,
        registry_data: dir.path().join("registry-data"),
        auth_registry_addr: format!("127.0.0.1:{}", free_port()),
        _registry_guard: guard,
        _dir: dir,
        git_server: OnceLock::new(),
        git_image: OnceLock::new(),
        ssh_image: OnceLock::new(),
        auth_registry: OnceLock::new(),
    }
}

/// A `podman` command reading `conf` (the lab's `containers.conf`).
fn podman_command(conf: &Path) -> Command {
    let mut c = Command::new("podman");
    c.env("CONTAINERS_CONF", conf);
    c
}

/// Imports `rootfs` as `localhost/cordium-test/<name>:1` with the Dockerfile instructions
/// `changes`, pushes it to `registry` and returns the pushed reference.
fn publish_image(
    conf: &Path,
    rootfs: &Path,
    name: &str,
    changes: &[String],
    registry: &str,
) -> String {
    let tar = rootfs.with_extension("tar");
    run(
        Command::new("tar")
            .arg("-C")
            .arg(rootfs)
            .arg("-cf")
            .arg(&tar)
            .arg("."),
        "tar",
    );
    let local = format!("localhost/cordium-test/{name}:1");
    let mut import = podman_command(conf);
    import.arg("import");
    for change in changes {
        import.arg("--change").arg(change);
    }
    run(
        import.arg(&tar).arg(&local),
        "podman import (apt-get install podman runc)",
    );
    let image = format!("{registry}/cordium-test/{name}:1");
    run(
        podman_command(conf)
            .args(["push", "--quiet", "--tls-verify=false"])
            .arg(&local)
            .arg(&image),
        "podman push",
    );
    image
}

/// Runs `script` (with `$1`... from `args`) under `sh`, in the background; the returned pipe
/// end kills it when dropped (i.e. when this process ends). Waits until `addr` accepts
/// connections; panics with `what` otherwise.
fn serve(
    script: &str,
    args: &[&Path],
    env: &[(&str, &str)],
    addr: &str,
    what: &str,
) -> std::process::ChildStdin {
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg(format!("{script} & pid=$!; read _; kill $pid"))
        .arg("sh")
        .args(args)
        .stdin(Stdio::piped());
    for (k, v) in env {
        command.env(k, v);
    }
    #[allow(clippy::zombie_processes, reason = "the shell ends with this process")]
    let mut child = command.spawn().expect("sh");
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(addr).is_err() {
        assert!(Instant::now() < deadline, "{what} did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    child.stdin.take().expect("stdin")
}

/// A random password (from the kernel), letters and digits.
fn random_password() -> String {
    let mut bytes = [0_u8; 18];
    std::io::Read::read_exact(
        &mut std::fs::File::open("/dev/urandom").expect("/dev/urandom"),
        &mut bytes,
    )
    .expect("random bytes");
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    bytes
        .iter()
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect()
}

/// The smart-HTTP server: `python3 -c GIT_HTTP_SERVER ROOT PORT CERT KEY USER`, the password
/// in `$CORDIUM_TEST_GIT_PASSWORD`.
const GIT_HTTP_SERVER: &str = r#"
import base64, os, ssl, subprocess, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
root, port, cert, key, user = sys.argv[1:6]
expected = "Basic " + base64.b64encode(
    (user + ":" + os.environ["CORDIUM_TEST_GIT_PASSWORD"]).encode()).decode()

class Handler(BaseHTTPRequestHandler):
    # A client that stops mid-request (a workspace removed during a fetch) frees its thread.
    timeout = 30
    def log_message(self, *args):
        pass
    def do_GET(self):
        self.serve()
    def do_POST(self):
        self.serve()
    def serve(self):
        path, _, query = self.path.partition("?")
        private = path.startswith("/private/")
        if private and self.headers.get("Authorization") != expected:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="git"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        env = {"PATH": os.environ["PATH"], "GIT_PROJECT_ROOT": root,
               "GIT_HTTP_EXPORT_ALL": "1", "PATH_INFO": path, "QUERY_STRING": query,
               "REQUEST_METHOD": self.command, "CONTENT_LENGTH": str(len(body)),
               "CONTENT_TYPE": self.headers.get("Content-Type", ""),
               "REMOTE_ADDR": self.client_address[0], "REMOTE_USER": user if private else ""}
        for header in ("Content-Encoding", "Git-Protocol"):
            if self.headers.get(header):
                env["HTTP_" + header.upper().replace("-", "_")] = self.headers[header]
        out = subprocess.run(["git", "http-backend"], input=body, env=env,
                             capture_output=True).stdout
        head, _, rest = out.partition(b"\r\n\r\n")
        status, headers = 200, []
        for line in head.decode().split("\r\n"):
            name, _, value = line.partition(": ")
            if name.lower() == "status":
                status = int(value.split()[0])
            elif name:
                headers.append((name, value))
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(rest)))
        self.end_headers()
        self.wfile.write(rest)

server = ThreadingHTTPServer(("0.0.0.0", int(port)), Handler)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(cert, key)
# The handshake runs in the request's thread (at its first read, under its timeout), not in
# accept: one client that never finishes it must not stop the server accepting.
server.socket = context.wrap_socket(server.socket, server_side=True,
                                    do_handshake_on_connect=False)
server.serve_forever()
"#;

fn start_git_server(lab: &Lab) -> GitServer {
    let dir = tempfile::tempdir().expect("tempdir");
    let gateway = lab.gateway();
    let certificate = dir.path().join("cert.pem");
    let key = dir.path().join("key.pem");
    run(
        Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "2",
                "-subj",
                "/CN=cordium-test-git",
            ])
            .arg("-addext")
            .arg(format!("subjectAltName=IP:{gateway},IP:127.0.0.1"))
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&certificate),
        "openssl req (apt-get install openssl)",
    );
    let root = dir.path().join("repositories");
    std::fs::create_dir_all(root.join("public")).expect("mkdir");
    std::fs::create_dir_all(root.join("private")).expect("mkdir");
    let port = free_port();
    let password = random_password();
    let port_text = port.to_string();
    let guard = serve(
        "python3 -c \"$CORDIUM_TEST_GIT_SERVER\" \"$1\" \"$2\" \"$3\" \"$4\" cordium >/dev/null 2>&1",
        &[&root, Path::new(&port_text), &certificate, &key],
        &[
            ("CORDIUM_TEST_GIT_SERVER", GIT_HTTP_SERVER),
            ("CORDIUM_TEST_GIT_PASSWORD", &password),
        ],
        &format!("127.0.0.1:{port}"),
        "the git server (python3, git)",
    );
    GitServer {
        url: format!("https://{gateway}:{port}"),
        username: "cordium".to_owned(),
        password,
        certificate,
        root,
        _guard: guard,
        _dir: dir,
    }
}

/// Copies `file` into `rootfs` at the same path, following symbolic links.
fn copy_into(rootfs: &Path, file: &Path) {
    let target = rootfs.join(file.strip_prefix("/").expect("an absolute path"));
    std::fs::create_dir_all(target.parent().expect("a parent")).expect("mkdir");
    std::fs::copy(file, &target).unwrap_or_else(|e| panic!("copying {}: {e}", file.display()));
}

/// `file` and every shared library `ldd` lists for it (with the dynamic loader).
fn copy_with_libraries(rootfs: &Path, file: &Path) {
    copy_into(rootfs, file);
    let libraries = run(Command::new("ldd").arg(file), "ldd");
    for line in libraries.lines() {
        let path = match line.split_once("=>") {
            Some((_, right)) => right.split_whitespace().next(),
            None => line.split_whitespace().next(),
        };
        if let Some(path) = path.filter(|p| p.starts_with('/')) {
            copy_into(rootfs, Path::new(path));
        }
    }
}

/// git's exec path in the image: its symbolic links and scripts (`git submodule` is one,
/// and `clone --recurse-submodules` runs it), builtins linked to `git`, and of the other
/// programs only `git-remote-http` (with its libraries) and the scripts' `envsubst`.
fn copy_exec_path(rootfs: &Path, git: &Path, exec_path: &Path) {
    use std::os::unix::fs::MetadataExt as _;
    let target = rootfs.join(exec_path.strip_prefix("/").expect("an absolute path"));
    std::fs::create_dir_all(&target).expect("mkdir");
    let git_inode = std::fs::metadata(git).expect("git").ino();
    let mut entries: Vec<_> = std::fs::read_dir(exec_path)
        .expect("git's exec path")
        .map(|e| e.expect("an entry").path())
        .collect();
    entries.sort();
    for path in entries {
        let name = path.file_name().expect("a name");
        let meta = std::fs::symlink_metadata(&path).expect("metadata");
        if meta.file_type().is_symlink() {
            let link = std::fs::read_link(&path).expect("readlink");
            std::os::unix::fs::symlink(link, target.join(name)).expect("symlink");
        } else if meta.is_file() {
            let mut magic = [0_u8; 4];
            let elf = std::io::Read::read_exact(
                &mut std::fs::File::open(&path).expect("open"),
                &mut magic,
            )
            .is_ok()
                && magic == *b"\x7fELF";
            if !elf {
                copy_into(rootfs, &path);
            } else if meta.ino() == git_inode {
                std::os::unix::fs::symlink(git, target.join(name)).expect("symlink");
            } else if ["git-remote-http", "git-sh-i18n--envsubst"]
                .iter()
                .any(|n| name == *n)
            {
                copy_with_libraries(rootfs, &path);
            }
        }
    }
    if std::fs::symlink_metadata(target.join("git")).is_err() {
        let _ = std::os::unix::fs::symlink(git, target.join("git"));
    }
}

fn build_git_image(lab: &Lab) -> String {
    let server = lab.git_server();
    let dir = tempfile::tempdir().expect("tempdir");
    let rootfs = dir.path().join("rootfs");
    busybox_rootfs(&rootfs);
    // Debian's git with its own exec path when there (CI), else the git on PATH.
    let git = if Path::new("/usr/bin/git").exists() {
        PathBuf::from("/usr/bin/git")
    } else {
        PathBuf::from(
            run(
                Command::new("sh").args(["-c", "command -v git"]),
                "git (apt-get install git)",
            )
            .trim(),
        )
    };
    let exec_path =
        PathBuf::from(run(Command::new(&git).arg("--exec-path"), "git --exec-path").trim());
    copy_with_libraries(&rootfs, &git);
    copy_exec_path(&rootfs, &git, &exec_path);
    let certs = rootfs.join("etc/ssl/certs");
    std::fs::create_dir_all(&certs).expect("mkdir");
    std::fs::copy(&server.certificate, certs.join("ca-certificates.crt")).expect("certificate");
    publish_image(
        &lab.containers_conf(),
        &rootfs,
        "git",
        &[
            "ENV PATH=/bin:/usr/bin:/usr/local/bin".to_owned(),
            "ENV HOME=/root".to_owned(),
            format!("ENV GIT_EXEC_PATH={}", exec_path.display()),
        ],
        &lab.registry,
    )
}

fn start_auth_registry(lab: &Lab) -> AuthRegistry {
    let dir = tempfile::tempdir().expect("tempdir");
    let password = random_password();
    let username = "cordium".to_owned();
    let mut hash = Command::new("python3");
    hash.args([
        "-W",
        "ignore",
        "-c",
        "import crypt, sys; print(crypt.crypt(sys.stdin.read(), crypt.mksalt(crypt.METHOD_BLOWFISH)))",
    ])
    .stdin(Stdio::piped())
    .stdout(Stdio::piped());
    let mut child = hash.spawn().expect("python3");
    std::io::Write::write_all(&mut child.stdin.take().expect("stdin"), password.as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("python3");
    let hash = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert!(
        hash.starts_with("$2"),
        "python3 crypt gave no bcrypt hash: {hash:?}"
    );
    let htpasswd = dir.path().join("htpasswd");
    std::fs::write(&htpasswd, format!("{username}:{hash}\n")).expect("htpasswd");
    let registry = lab.auth_registry_addr.clone();
    let config = dir.path().join("registry.yml");
    std::fs::write(
        &config,
        format!(
            "version: 0.1\nlog: {{level: error}}\nstorage:\n  filesystem: {{rootdirectory: {}}}\nauth:\n  htpasswd: {{realm: cordium-test, path: {}}}\nhttp: {{addr: \"{registry}\"}}\n",
            lab.registry_data.display(),
            htpasswd.display(),
        ),
    )
    .expect("registry config");
    let guard = serve(
        "docker-registry serve \"$1\" >/dev/null 2>&1",
        &[&config],
        &[],
        &registry,
        "the registry with authentication (apt-get install docker-registry)",
    );
    AuthRegistry {
        image: format!("{registry}/cordium-test/busybox:1"),
        registry,
        username,
        password,
        _guard: guard,
        _dir: dir,
    }
}
