//! Standard SSH into workspaces, with the real OpenSSH client (`ssh`, `scp`, `sftp`,
//! `rsync`) against the server on 127.0.0.1, workspaces on real podman in the lab's image
//! with OpenSSH's client and sftp-server ([`cordium_testkit::Lab::ssh_image`]); and the SSH
//! agent, checked with Debian's `sshd` on the host.

use super::*;
use crate::podman::until;
use cordium_provisioner::podman::Podman;
use cordium_provisioner::runtime::Runtime;
use cordium_testkit::{free_port, lab, run};
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

const PTY_SCRIPT: &str = include_str!("ssh/pty.py");

/// A server running workspaces on podman with SSH and agents, and one user of it.
pub(super) struct SshEnv {
    pub(super) data: Data,
    pub(super) server: Server,
    pub(super) agents: cordium_server::agent::Agents,
    pub(super) port: u16,
    pub(super) home: tempfile::TempDir,
    pub(super) known_hosts: PathBuf,
}

/// The lab's podman with an SSH agent directory under `data`: the agents and the runtime.
pub(super) fn podman_with_agents(data: &Data) -> (cordium_server::agent::Agents, Arc<dyn Runtime>) {
    let agents =
        cordium_server::agent::Agents::new(&data.dir.path().join("agents")).expect("agents");
    let mut options = lab().podman_options();
    options.agent_sockets = Some(agents.dir().to_owned());
    let runtime: Arc<dyn Runtime> = Arc::new(Podman::new(options).expect("podman"));
    (agents, runtime)
}

impl SshEnv {
    pub(super) async fn new() -> Self {
        Self::with_limits(
            cordium_server::connections::ConnectionLimits::default(),
            cordium_server::service::StreamLimits::default(),
        )
        .await
    }

    /// As [`SshEnv::new`], accepting SSH connections under `limits` and sessions under
    /// `sessions`.
    async fn with_limits(
        limits: cordium_server::connections::ConnectionLimits,
        sessions: cordium_server::service::StreamLimits,
    ) -> Self {
        let data = Data::new(Backend::Sqlite).await;
        let (agents, runtime) = podman_with_agents(&data);
        let api = cordium_server::server::open(data.dir.path(), None)
            .await
            .expect("open")
            .with_agents(agents.clone())
            .with_stream_limits(sessions);
        let api = cordium_server::server::start_driver_with(api, runtime, Duration::from_secs(1));
        let host_key = cordium_server::ssh::host_key::load_or_create(
            &data
                .dir
                .path()
                .join(cordium_server::ssh::host_key::HOST_KEY_FILE),
        )
        .expect("host key");
        let listener = cordium_server::server::bind("127.0.0.1:0".parse().expect("addr"))
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let endpoint = cordium_server::ssh::endpoint(&host_key, port);
        let api = api.with_ssh_endpoint(endpoint.clone());
        tokio::spawn(cordium_server::ssh::serve(
            api.clone(),
            host_key,
            listener,
            limits,
            std::future::pending(),
        ));
        let server = Server::serve_api(api).await;
        let home = tempfile::tempdir().expect("home");
        let known_hosts = home.path().join("known_hosts");
        std::fs::write(
            &known_hosts,
            format!("[127.0.0.1]:{port} {}\n", endpoint.host_key),
        )
        .expect("known_hosts");
        Self {
            data,
            server,
            agents,
            port,
            home,
            known_hosts,
        }
    }

    /// A new user with a new ed25519 key registered: (client, key file).
    pub(super) async fn user(&self, name: &str) -> (Client, PathBuf) {
        self.user_with(name, "ed25519").await
    }

    /// A new user with a new key of `kind` (`ed25519`, `ecdsa`) registered.
    async fn user_with(&self, name: &str, kind: &str) -> (Client, PathBuf) {
        let token = self.server.user(name, false).await;
        let client = self.server.client(&token);
        let key = self.keygen(name, kind);
        let public = std::fs::read_to_string(key.with_extension("pub")).expect("pub");
        ok(
            "AddSshKey",
            client
                .clone()
                .add_ssh_key(pb::AddSshKeyRequest { public_key: public })
                .await,
        );
        (client, key)
    }

    fn keygen(&self, name: &str, kind: &str) -> PathBuf {
        let path = self.home.path().join(format!("{name}-{kind}"));
        run(
            Command::new("ssh-keygen")
                .args(["-q", "-t", kind, "-N", "", "-C", name, "-f"])
                .arg(&path),
            "ssh-keygen (apt-get install openssh-client)",
        );
        path
    }

    /// `ssh` (or `program`, e.g. `scp`) with this server's port option, the key, the host
    /// key pinned, and nothing from the invoking user's configuration or agent.
    fn openssh(&self, program: &str, key: &Path) -> Command {
        let mut command = Command::new(program);
        command
            .env_remove("SSH_AUTH_SOCK")
            .args(["-F", "/dev/null"])
            .args(["-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes"])
            .arg("-o")
            .arg(format!("UserKnownHostsFile={}", self.known_hosts.display()))
            .args(["-o", "StrictHostKeyChecking=yes", "-i"])
            .arg(key)
            .arg(if program == "ssh" { "-p" } else { "-P" })
            .arg(self.port.to_string());
        command
    }

    pub(super) fn ssh(&self, key: &Path, user: &str, remote: &str) -> Output {
        self.openssh("ssh", key)
            .arg(format!("{user}@127.0.0.1"))
            .arg(remote)
            .stdin(Stdio::null())
            .output()
            .expect("ssh")
    }

    pub(super) async fn create(&self, client: &Client, spec: serde_json::Value) -> String {
        let ws = ok(
            "CreateWorkspace",
            client
                .clone()
                .create_workspace(workspace("", "", Some(spec)))
                .await,
        );
        name_of(&ws.metadata)
    }

    async fn wait_for(&self, client: &Client, name: &str, state: pb::WorkspaceState) {
        let mut events = ok(
            "WatchWorkspace",
            client
                .clone()
                .watch_workspace(pb::WatchWorkspaceRequest {
                    name: name.into(),
                    ..Default::default()
                })
                .await,
        );
        until(&mut events, |s| s.state() == state).await;
    }

    pub(super) async fn start(&self, client: &Client, name: &str) {
        ok(
            "StartWorkspace",
            client
                .clone()
                .start_workspace(pb::StartWorkspaceRequest {
                    name: name.into(),
                    vars: Vec::new(),
                })
                .await,
        );
        self.wait_for(client, name, pb::WorkspaceState::Running)
            .await;
    }

    pub(super) async fn stop(&self, client: &Client, name: &str) {
        ok(
            "StopWorkspace",
            client
                .clone()
                .stop_workspace(pb::StopWorkspaceRequest { name: name.into() })
                .await,
        );
        self.wait_for(client, name, pb::WorkspaceState::Stopped)
            .await;
    }
}

pub(super) fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn sha256_of(path: &Path) -> String {
    run(Command::new("sha256sum").arg(path), "sha256sum")
        .split_whitespace()
        .next()
        .expect("a digest")
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ssh_runs_shells_commands_file_transfers_and_forwards_into_a_workspace() {
    let env = SshEnv::new().await;
    let (alice, key) = env.user("alice").await;
    let name = env
        .create(
            &alice,
            serde_json::json!({
                "image": {"registry": {"url": lab().ssh_image()}},
                "runtime": {"tasks": [{"name": "web", "type": "POST_START", "run":
                    "mkdir -p /tmp/www && echo hello-from-httpd > /tmp/www/index.html && (busybox httpd -p 127.0.0.1:8080 -h /tmp/www &)"}]},
            }),
        )
        .await;
    env.start(&alice, &name).await;

    // A command's exit status comes back; so does its output; stdin goes in.
    let out = env.ssh(&key, &name, "echo out; echo err >&2; exit 7");
    assert_eq!(out.status.code(), Some(7), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "out\n");
    assert!(text(&out.stderr).contains("err"));
    let piped = env
        .openssh("ssh", &key)
        .arg(format!("{name}@127.0.0.1"))
        .arg("tr a-z A-Z")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("ssh");
    let mut piped = piped;
    std::io::Write::write_all(piped.stdin.as_mut().expect("stdin"), b"shout\n").expect("write");
    drop(piped.stdin.take());
    let piped = piped.wait_with_output().expect("ssh");
    assert_eq!(text(&piped.stdout), "SHOUT\n");
    // The Space-qualified user names the same workspace; a wrong Space is refused.
    let space = "default.alice";
    let qualified = env.ssh(&key, &format!("{name}+{space}"), "echo qualified");
    assert_eq!(
        text(&qualified.stdout),
        "qualified\n",
        "{}",
        text(&qualified.stderr)
    );
    let wrong = env.ssh(&key, &format!("{name}+default.bob"), "true");
    assert_eq!(wrong.status.code(), Some(255));

    // A shell on a real terminal, as the workspace user (uid 1000): its size follows a resize,
    // and `exit 3` ends ssh with 3.
    let mut ssh_argv: Vec<String> = vec!["ssh".into()];
    let probe = env.openssh("ssh", &key);
    ssh_argv.extend(probe.get_args().map(|a| a.to_string_lossy().into_owned()));
    ssh_argv.push("-tt".into());
    ssh_argv.push(format!("{name}@127.0.0.1"));
    let pty = Command::new("python3")
        .env_remove("SSH_AUTH_SOCK")
        .arg("-c")
        .arg(PTY_SCRIPT)
        .args(&ssh_argv)
        .output()
        .expect("python3");
    let report = text(&pty.stdout);
    assert!(
        report.contains("SIZE1=24 80"),
        "{report} {}",
        text(&pty.stderr)
    );
    assert!(
        report.contains("UID=1000\n"),
        "the shell runs as the workspace user: {report} {}",
        text(&pty.stderr)
    );
    assert!(
        report.contains("SIZE2=40 120"),
        "{report} {}",
        text(&pty.stderr)
    );
    assert_eq!(pty.status.code(), Some(3), "{report} {}", text(&pty.stderr));

    // 50 MB through scp (the SFTP protocol) and through sftp, both ways, unchanged.
    let dir = env.home.path();
    let original = dir.join("big");
    run(
        Command::new("head")
            .args(["-c", "50000000", "/dev/urandom"])
            .stdout(std::fs::File::create(&original).expect("create")),
        "head",
    );
    let digest = sha256_of(&original);
    let up = env
        .openssh("scp", &key)
        .arg(&original)
        .arg(format!("{name}@127.0.0.1:/workspace/big"))
        .output()
        .expect("scp");
    assert!(up.status.success(), "scp up: {}", text(&up.stderr));
    let remote = env.ssh(&key, &name, "sha256sum /workspace/big");
    assert!(
        text(&remote.stdout).starts_with(&digest),
        "{}",
        text(&remote.stdout)
    );
    let back = dir.join("big.scp");
    let down = env
        .openssh("scp", &key)
        .arg(format!("{name}@127.0.0.1:/workspace/big"))
        .arg(&back)
        .output()
        .expect("scp");
    assert!(down.status.success(), "scp down: {}", text(&down.stderr));
    assert_eq!(sha256_of(&back), digest);
    let batch = dir.join("batch");
    let via_sftp = dir.join("big.sftp");
    std::fs::write(
        &batch,
        format!(
            "put {} /workspace/big2\nget /workspace/big2 {}\n",
            original.display(),
            via_sftp.display()
        ),
    )
    .expect("batch");
    let sftp = env
        .openssh("sftp", &key)
        .arg("-b")
        .arg(&batch)
        .arg(format!("{name}@127.0.0.1"))
        .output()
        .expect("sftp");
    assert!(sftp.status.success(), "sftp: {}", text(&sftp.stderr));
    assert_eq!(sha256_of(&via_sftp), digest);
    // rsync over ssh (rsync is in the image).
    let rsync_target = dir.join("big.rsync");
    let rsh = format!(
        "ssh -F /dev/null -o BatchMode=yes -o IdentitiesOnly=yes -o UserKnownHostsFile={} -o StrictHostKeyChecking=yes -i {} -p {}",
        env.known_hosts.display(),
        key.display(),
        env.port
    );
    let rsync = Command::new("rsync")
        .env_remove("SSH_AUTH_SOCK")
        .arg("-e")
        .arg(&rsh)
        .arg(format!("{name}@127.0.0.1:/workspace/big"))
        .arg(&rsync_target)
        .output()
        .expect("rsync");
    assert!(rsync.status.success(), "rsync: {}", text(&rsync.stderr));
    assert_eq!(sha256_of(&rsync_target), digest);

    // ssh -L to busybox httpd on the workspace's loopback, started by a POST_START task.
    let local = free_port();
    let mut tunnel = env
        .openssh("ssh", &key)
        .args(["-N", "-o", "ExitOnForwardFailure=yes", "-L"])
        .arg(format!("{local}:localhost:8080"))
        .arg(format!("{name}@127.0.0.1"))
        .stdin(Stdio::null())
        .spawn()
        .expect("ssh -L");
    let mut answer = String::new();
    for _ in 0..100 {
        let curl = Command::new("curl")
            .args(["-sS", "--max-time", "5"])
            .arg(format!("http://127.0.0.1:{local}/index.html"))
            .output()
            .expect("curl");
        answer = text(&curl.stdout);
        if curl.status.success() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let _ = tunnel.kill();
    let _ = tunnel.wait();
    assert_eq!(answer, "hello-from-httpd\n");

    // Removing the key ends the sessions opened with it.
    let mut long = env
        .openssh("ssh", &key)
        .arg(format!("{name}@127.0.0.1"))
        .arg("sleep 300")
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ssh");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let keys = ok(
        "ListSshKeys",
        alice.clone().list_ssh_keys(pb::Empty {}).await,
    );
    assert_eq!(keys.items.len(), 1);
    ok(
        "RemoveSshKey",
        alice
            .clone()
            .remove_ssh_key(pb::RemoveSshKeyRequest {
                id: keys.items[0].id.clone(),
            })
            .await,
    );
    let mut ended = None;
    for _ in 0..300 {
        if let Some(status) = long.try_wait().expect("wait") {
            ended = Some(status);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = long.kill();
    assert!(ended.is_some(), "the session outlived its key");
    assert_eq!(env.ssh(&key, &name, "true").status.code(), Some(255));

    // A stopped workspace: one clear line, at once.
    let public = std::fs::read_to_string(key.with_extension("pub")).expect("pub");
    ok(
        "AddSshKey",
        alice
            .clone()
            .add_ssh_key(pb::AddSshKeyRequest { public_key: public })
            .await,
    );
    env.stop(&alice, &name).await;
    let stopped = env.ssh(&key, &name, "true");
    assert_eq!(stopped.status.code(), Some(1));
    assert_eq!(
        text(&stopped.stderr).trim(),
        format!("cordium: workspace `{name}` is not running; start it with `cordium start {name}`")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn wrong_keys_and_other_users_workspaces_are_refused_like_missing_ones() {
    let env = SshEnv::new().await;
    let (alice, alice_key) = env.user("alice").await;
    let (bob, bob_key) = env.user_with("bob", "ecdsa").await;
    let spec = serde_json::json!({"image": {"registry": {"url": lab().image}}});
    let alices = env.create(&alice, spec.clone()).await;
    let bobs = env.create(&bob, spec).await;
    let stranger = env.keygen("stranger", "ecdsa");
    // A user registers a key once.
    let again = alice
        .clone()
        .add_ssh_key(pb::AddSshKeyRequest {
            public_key: std::fs::read_to_string(alice_key.with_extension("pub")).expect("pub"),
        })
        .await;
    assert_eq!(
        again.expect_err("a registered key").code(),
        tonic::Code::AlreadyExists
    );
    // RSA is refused as InvalidArgument naming the field.
    let rsa = env.keygen("rsa", "rsa");
    let refused = alice
        .clone()
        .add_ssh_key(pb::AddSshKeyRequest {
            public_key: std::fs::read_to_string(rsa.with_extension("pub")).expect("pub"),
        })
        .await
        .expect_err("rsa");
    assert_eq!(refused.code(), tonic::Code::InvalidArgument);
    assert!(
        refused.message().starts_with("public_key:"),
        "{}",
        refused.message()
    );

    let missing = env.ssh(&alice_key, "nosuch", "true");
    assert_eq!(missing.status.code(), Some(255));
    let expected = text(&missing.stderr).replace("nosuch", "WS");
    assert!(
        expected.contains("Permission denied (publickey)"),
        "{expected}"
    );
    for (key, workspace, case) in [
        (&stranger, &alices, "an unregistered key"),
        (&bob_key, &alices, "another user's key"),
        (&alice_key, &bobs, "another user's workspace"),
    ] {
        let out = env.ssh(key, workspace, "true");
        assert_eq!(out.status.code(), Some(255), "{case}");
        assert_eq!(
            text(&out.stderr).replace(workspace.as_str(), "WS"),
            expected,
            "{case}"
        );
    }
    // Another user may register the same key (public keys are public: registered first by
    // someone else, a key would otherwise be lost to its owner). It lets its holder into the
    // registering user's workspaces only, as `authorized_keys` does.
    let stranger_pub = std::fs::read_to_string(stranger.with_extension("pub")).expect("pub");
    let mut ids = Vec::new();
    for (user, client) in [("alice", &alice), ("bob", &bob)] {
        let added = client
            .clone()
            .add_ssh_key(pb::AddSshKeyRequest {
                public_key: stranger_pub.clone(),
            })
            .await;
        let added = added.unwrap_or_else(|e| panic!("{user}: {e:?}"));
        ids.push(added.into_inner().id);
    }
    assert_eq!(ids[0], ids[1], "a key's id is made from the key");
    alice
        .clone()
        .remove_ssh_key(pb::RemoveSshKeyRequest { id: ids[0].clone() })
        .await
        .expect("alice removes her copy, and bob keeps his");
    let into_bobs = env.ssh(&stranger, &bobs, "true");
    assert_eq!(
        into_bobs.status.code(),
        Some(1),
        "{}",
        text(&into_bobs.stderr)
    );
    assert_eq!(env.ssh(&stranger, &alices, "true").status.code(), Some(255));
    // The stopped (never started) workspace of the right key gets the one-line message.
    let stopped = env.ssh(&alice_key, &alices, "true");
    assert_eq!(stopped.status.code(), Some(1), "{}", text(&stopped.stderr));
    assert!(text(&stopped.stderr).contains("is not running"));
    // Bob's ECDSA key opens his own workspace (which is not running, and says so).
    let own = env.ssh(&bob_key, &bobs, "true");
    assert_eq!(own.status.code(), Some(1), "{}", text(&own.stderr));
    assert!(text(&own.stderr).contains("is not running"));
    // A disabled user's key is refused the same way.
    env.server
        .store
        .set_disabled("alice", true)
        .await
        .expect("disable");
    let disabled = env.ssh(&alice_key, &alices, "true");
    assert_eq!(
        text(&disabled.stderr).replace(alices.as_str(), "WS"),
        expected
    );

    // `cordium-server ssh-host-key` prints the fingerprint OpenSSH computes for the key.
    let printed = crate::base_command(env.data.dir.path(), None)
        .arg("ssh-host-key")
        .output()
        .expect("cordium-server ssh-host-key");
    let printed = text(&printed.stdout);
    let mut lines = printed.lines();
    let fingerprint = lines.next().expect("a fingerprint").to_owned();
    let public = env.home.path().join("host.pub");
    std::fs::write(&public, lines.next().expect("a public key")).expect("host.pub");
    let openssh = run(
        Command::new("ssh-keygen").arg("-lf").arg(&public),
        "ssh-keygen -l",
    );
    assert!(fingerprint.starts_with("SHA256:"));
    assert!(openssh.contains(&fingerprint), "{openssh} {fingerprint}");
    let pinned = std::fs::read_to_string(&env.known_hosts).expect("known_hosts");
    assert!(
        pinned.contains(
            printed
                .lines()
                .nth(1)
                .expect("public")
                .split(' ')
                .nth(1)
                .expect("blob")
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ssh_connections_are_capped_and_must_speak_in_time() {
    let limits = cordium_server::connections::ConnectionLimits {
        max_connections_per_peer: 1,
        handshake_timeout: Duration::from_secs(2),
        ..Default::default()
    };
    let env = SshEnv::with_limits(limits, Default::default()).await;
    let (_alice, key) = env.user("alice").await;
    // A silent connection gets the server's version line, then is closed at the deadline.
    let mut silent = tokio::net::TcpStream::connect(("127.0.0.1", env.port))
        .await
        .expect("connect");
    let mut seen = Vec::new();
    let read = tokio::time::timeout(
        Duration::from_secs(30),
        tokio::io::AsyncReadExt::read_to_end(&mut silent, &mut seen),
    )
    .await;
    assert!(read.is_ok(), "the silent connection was not closed");
    assert!(seen.starts_with(b"SSH-2.0-cordium"), "{}", text(&seen));
    // While one connection from this address is open, a second one is closed at once.
    let _held = tokio::net::TcpStream::connect(("127.0.0.1", env.port))
        .await
        .expect("connect");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let second = env.ssh(&key, "nosuch", "true");
    assert_eq!(second.status.code(), Some(255));
    assert!(
        !text(&second.stderr).contains("Permission denied"),
        "the second connection got as far as authentication: {}",
        text(&second.stderr)
    );
}

/// SSH sessions and `-L` connections count against the same per-user caps as ExecStream and
/// PortForward: past them, the next is refused with the reason, and a freed slot is reused.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ssh_sessions_count_against_the_users_session_cap() {
    let env = SshEnv::with_limits(
        Default::default(),
        cordium_server::service::StreamLimits {
            sessions_per_user: 1,
            ..Default::default()
        },
    )
    .await;
    let (alice, key) = env.user("alice").await;
    let name = env
        .create(
            &alice,
            serde_json::json!({"image": {"registry": {"url": lab().ssh_image()}}}),
        )
        .await;
    env.start(&alice, &name).await;
    let mut held = env
        .openssh("ssh", &key)
        .arg(format!("{name}@127.0.0.1"))
        .arg("echo in; sleep 60")
        .stdout(Stdio::piped())
        .spawn()
        .expect("ssh");
    // Wait until the first session runs.
    let mut first_line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(held.stdout.as_mut().expect("stdout")),
        &mut first_line,
    )
    .expect("read");
    assert_eq!(first_line, "in\n");
    let refused = env.ssh(&key, &name, "echo second");
    assert_ne!(refused.status.code(), Some(0));
    assert!(
        text(&refused.stderr).contains("you have 1 open sessions, the most allowed"),
        "{}",
        text(&refused.stderr)
    );
    assert_eq!(text(&refused.stdout), "");
    let _ = held.kill();
    let _ = held.wait();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let again = env.ssh(&key, &name, "echo again");
        if text(&again.stdout) == "again\n" {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the slot was not freed: {}",
            text(&again.stderr)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A raw SSH client that trusts any host key: for channels OpenSSH's client never opens (a
/// session channel that asks for nothing).
struct RawClient;

impl russh::client::Handler for RawClient {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        _: &russh::keys::PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        Ok(true)
    }
}

/// One connection holds at most `MAX_SESSIONS_PER_CONNECTION` session channels, and a channel
/// that asks for no shell, command or subsystem is closed at the request deadline, freeing its
/// place (before, one connection opened 100,000 such channels and the server grew by 780 MB).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn idle_session_channels_are_capped_per_connection_and_closed_in_time() {
    use cordium_server::ssh::{MAX_SESSIONS_PER_CONNECTION, channel::REQUEST_TIMEOUT};
    let env = SshEnv::new().await;
    let (alice, key) = env.user("alice").await;
    // Not started: opening channels needs only the login.
    let name = env.create(&alice, serde_json::json!({})).await;
    let mut handle = russh::client::connect(
        Arc::new(russh::client::Config::default()),
        ("127.0.0.1", env.port),
        RawClient,
    )
    .await
    .expect("connect");
    let key = russh::keys::load_secret_key(&key, None).expect("the key");
    let auth = handle
        .authenticate_publickey(
            name.as_str(),
            russh::keys::PrivateKeyWithHashAlg::new(Arc::new(key), None),
        )
        .await
        .expect("authenticate");
    assert!(auth.success(), "{auth:?}");

    let mut channels = Vec::new();
    for _ in 0..MAX_SESSIONS_PER_CONNECTION {
        channels.push(handle.channel_open_session().await.expect("open a session"));
    }
    assert!(
        handle.channel_open_session().await.is_err(),
        "one session channel past the cap is refused"
    );

    let opened = Instant::now();
    for mut channel in channels {
        let closed = tokio::time::timeout(REQUEST_TIMEOUT + Duration::from_secs(15), async {
            while let Some(message) = channel.wait().await {
                if matches!(message, russh::ChannelMsg::Close) {
                    return;
                }
            }
        })
        .await;
        assert!(closed.is_ok(), "an idle channel is closed at the deadline");
    }
    assert!(
        opened.elapsed() + Duration::from_secs(1) >= REQUEST_TIMEOUT,
        "not before the deadline: {:?}",
        opened.elapsed()
    );
    // Their places are free again.
    let mut reopened = Vec::new();
    for _ in 0..MAX_SESSIONS_PER_CONNECTION {
        reopened.push(handle.channel_open_session().await.expect("open again"));
    }
}
