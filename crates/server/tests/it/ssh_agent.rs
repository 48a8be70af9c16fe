//! The SSH agent of a workspace run: the owner's SSH_KEY UserSecret signs `ssh -T` from
//! inside the workspace to Debian's `sshd` on the host (through podman's gateway), and its
//! private key shows up nowhere: not on the volume, in `podman inspect`, the log, the
//! processes' command lines and environments, or any API response.

use super::*;
use crate::ssh::{SshEnv, text};
use cordium_testkit::{free_port, lab, run};
use std::process::{Command, Stdio};

/// Debian's sshd on the gateway address, accepting `authorized` for the invoking user; killed
/// when dropped.
struct Sshd {
    child: std::process::Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Sshd {
    fn start(address: &str, authorized: &str) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let port = free_port();
        let host_key = dir.path().join("host_key");
        run(
            Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-f"])
                .arg(&host_key),
            "ssh-keygen",
        );
        std::fs::write(
            dir.path().join("authorized_keys"),
            format!("{authorized}\n"),
        )
        .expect("authorized_keys");
        let config = dir.path().join("sshd_config");
        std::fs::write(
            &config,
            format!(
                "Port {port}\nListenAddress {address}\nHostKey {}\nAuthorizedKeysFile {}\nPidFile {}\nStrictModes no\nUsePAM no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\n",
                host_key.display(),
                dir.path().join("authorized_keys").display(),
                dir.path().join("sshd.pid").display()
            ),
        )
        .expect("sshd_config");
        std::fs::create_dir_all("/run/sshd").expect("/run/sshd");
        let child = Command::new("/usr/sbin/sshd")
            .args(["-D", "-e", "-f"])
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("sshd (apt-get install openssh-server)");
        for _ in 0..100 {
            if std::net::TcpStream::connect((address, port)).is_ok() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Self {
            child,
            port,
            _dir: dir,
        }
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The forms a 32-byte private scalar could leak in: raw, hex, base64.
fn leaks(scalar: &[u8]) -> Vec<Vec<u8>> {
    use base64::Engine as _;
    let hex: String = scalar.iter().map(|b| format!("{b:02x}")).collect();
    vec![
        scalar.to_vec(),
        hex.into_bytes(),
        base64::engine::general_purpose::STANDARD
            .encode(scalar)
            .into_bytes(),
    ]
}

fn assert_absent(haystack: &[u8], scalar: &[u8], place: &str) {
    for form in leaks(scalar) {
        assert!(
            !haystack.windows(form.len()).any(|w| w == form.as_slice()),
            "the private key is in {place}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_agent_signs_for_the_workspace_and_keeps_the_key_out_of_it() {
    let env = SshEnv::new().await;
    let (alice, key) = env.user("alice").await;
    let request = pb::UserSecret {
        metadata: meta("git-key"),
        r#type: pb::UserSecretType::SshKey as i32,
        ..Default::default()
    };
    let secret = ok(
        "CreateUserSecret SSH_KEY",
        alice.clone().create_user_secret(request).await,
    );
    let public = secret.status.clone().expect("status").ssh_public_key;
    let blob = public.split_whitespace().nth(1).expect("blob").to_owned();
    let gateway = lab().gateway();
    let sshd = Sshd::start(&gateway, &public);
    let user = run(Command::new("id").arg("-un"), "id").trim().to_owned();
    let name = env
        .create(
            &alice,
            serde_json::json!({
                "image": {"registry": {"url": lab().ssh_image()}},
                "runtime": {
                    "tasks": [{"name": "sock", "type": "POST_START", "run":
                        "echo \"$SSH_AUTH_SOCK\" > /workspace/task-sock"}],
                    // ALLOW_PUBLIC does not reach the host, where sshd listens.
                    "network": {"egress": {"rules": [{"cidrs": [gateway], "action": "ALLOW"}]}},
                },
            }),
        )
        .await;
    env.start(&alice, &name).await;
    assert!(env.agents.is_running(&name));

    // `ssh-add -L` (exec) lists the key; the task and the main process have the socket.
    let exec = |script: &str| {
        let mut client = alice.clone();
        let request = pb::ExecWorkspaceRequest {
            name: name.clone(),
            command: vec!["sh".into(), "-c".into(), script.into()],
            ..Default::default()
        };
        async move { ok("ExecWorkspace", client.exec_workspace(request).await) }
    };
    let agent_list = exec("ssh-add -L").await;
    assert!(
        text(&agent_list.stdout).contains(&blob),
        "{}",
        text(&agent_list.stderr)
    );
    // The main process gets the container's environment (PID 1's own is not readable: it runs
    // as another user, and container root has no CAP_SYS_PTRACE); the process scan below runs
    // as container root to see every process it may.
    let container = format!("cdm-{name}");
    let as_root = |script: &str| {
        run(
            lab()
                .podman()
                .args(["exec", "--user", "0:0", &container, "sh", "-c", script]),
            "podman exec as container root",
        )
    };
    let task = exec("cat /workspace/task-sock").await;
    let main_env = run(
        lab().podman().args([
            "inspect",
            "--format",
            "{{range .Config.Env}}{{println .}}{{end}}",
            &container,
        ]),
        "podman inspect",
    );
    let main_env: String = main_env
        .lines()
        .filter(|l| l.starts_with("SSH_AUTH_SOCK="))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(
        format!("{}{main_env}", text(&task.stdout)),
        "/run/cordium-agent/agent.sock\nSSH_AUTH_SOCK=/run/cordium-agent/agent.sock\n"
    );

    // `ssh -T` from inside the workspace (itself reached over SSH) signs with the agent.
    let inside = format!(
        "ssh -T -F /dev/null -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -p {} {user}@{gateway} 'echo agent-ok'",
        sshd.port
    );
    let out = env.ssh(&key, &name, &inside);
    assert_eq!(text(&out.stdout), "agent-ok\n", "{}", text(&out.stderr));

    // The private key, from the store, is nowhere it must not be.
    let scalar =
        crate::secrets::unsealed(&env.server, env.data.dir.path(), "alice", "git-key").await;
    assert_eq!(scalar.len(), 32);
    let inspect = run(
        lab().podman().args(["inspect", &container]),
        "podman inspect",
    );
    assert_absent(inspect.as_bytes(), &scalar, "podman inspect");
    let logs = lab()
        .podman()
        .args(["logs", &container])
        .output()
        .expect("podman logs");
    assert_absent(&logs.stdout, &scalar, "the container log");
    assert_absent(&logs.stderr, &scalar, "the container log");
    let processes = as_root(
        "ps -ef; for p in /proc/[0-9]*; do tr '\\0' ' ' < $p/cmdline; tr '\\0' ' ' < $p/environ; done 2>/dev/null; true",
    );
    assert_absent(processes.as_bytes(), &scalar, "the processes");
    let mountpoint = run(
        lab().podman().args([
            "volume",
            "inspect",
            &format!("{container}-workspace"),
            "--format",
            "{{.Mountpoint}}",
        ]),
        "podman volume inspect",
    );
    let mut stack = vec![std::path::PathBuf::from(mountpoint.trim())];
    let mut files = 0;
    while let Some(path) = stack.pop() {
        if path.is_dir() {
            for entry in std::fs::read_dir(&path).expect("read_dir") {
                stack.push(entry.expect("entry").path());
            }
        } else if let Ok(bytes) = std::fs::read(&path) {
            files += 1;
            assert_absent(&bytes, &scalar, &format!("the volume ({})", path.display()));
        }
    }
    assert!(files > 0, "the volume holds the task's file");
    use prost::Message as _;
    let mut api = alice.clone();
    let secret_ref = pb::Ref {
        name: "git-key".into(),
        ..Default::default()
    };
    let workspace_ref = pb::Ref {
        name: name.clone(),
        ..Default::default()
    };
    let compile = pb::CompileWorkspaceRequest {
        target: Some(pb::compile_workspace_request::Target::Name(name.clone())),
        ..Default::default()
    };
    let responses = [
        ok("GetUserSecret", api.get_user_secret(secret_ref).await).encode_to_vec(),
        ok(
            "ListUserSecret",
            api.list_user_secret(pb::ListRequest::default()).await,
        )
        .encode_to_vec(),
        ok("GetWorkspace", api.get_workspace(workspace_ref).await).encode_to_vec(),
        ok("CompileWorkspace", api.compile_workspace(compile).await).encode_to_vec(),
        agent_list.encode_to_vec(),
        task.encode_to_vec(),
    ];
    for response in &responses {
        assert_absent(response, &scalar, "an API response");
    }

    // The agent goes away with the run.
    env.stop(&alice, &name).await;
    assert!(!env.agents.is_running(&name));
    assert!(!env.agents.run_dir(&name).exists());
    drop(sshd);
}
