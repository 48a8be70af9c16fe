//! SSH bench on real podman: keystroke round trips and bulk output through the server's SSH
//! against `podman exec` directly, as ratios measured in the same run.
//!
//! ```text
//! cargo bench -p cordium-server --bench ssh       # KEYS=200 keystrokes, BULK_MB=200 MB
//! ```
//!
//! - **Keystroke round trip**: `ssh -tt WS cat` against `podman exec -it CONTAINER cat`, each
//!   on a real pseudo-terminal (python3's `pty`): a byte is typed only after the previous one
//!   came back; median and 90th percentile. Target: SSH at most 1.5× + 2 ms.
//! - **Bulk stdout**: `ssh WS 'head -c N /dev/zero'` against `podman exec CONTAINER head -c N
//!   /dev/zero | cat`, both read to the end. Target: SSH at least half the throughput.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    missing_docs,
    reason = "bench"
)]

mod support;

use cordium_provisioner::podman::Podman;
use cordium_provisioner::runtime::Runtime;
use cordium_server::pb;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::{Auth, Main};

const KEYS_SCRIPT: &str = include_str!("ssh/keys.py");

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Median and p90 keystroke round trips (ms) of `argv`.
fn keystrokes(argv: &[String]) -> (f64, f64) {
    let out = Command::new("python3")
        .env_remove("SSH_AUTH_SOCK")
        .env("KEYS", env_number("KEYS", 200).to_string())
        .arg("-c")
        .arg(KEYS_SCRIPT)
        .args(argv)
        .output()
        .expect("python3");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut parts = text
        .split_whitespace()
        .map(|p| p.parse::<f64>().expect("ms"));
    match (parts.next(), parts.next()) {
        (Some(median), Some(p90)) => (median, p90),
        _ => panic!("keystrokes: {}", String::from_utf8_lossy(&out.stderr)),
    }
}

/// MB/s of reading `command`'s stdout to the end.
fn throughput(mut command: Command, bytes: u64) -> f64 {
    let started = Instant::now();
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    let read =
        std::io::copy(child.stdout.as_mut().expect("stdout"), &mut std::io::sink()).expect("read");
    assert!(child.wait().expect("wait").success());
    assert_eq!(read, bytes);
    bytes as f64 / 1e6 / started.elapsed().as_secs_f64()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let lab = cordium_testkit::lab();
    let data = tempfile::tempdir().expect("tempdir");
    let api = cordium_server::server::open(data.path(), None)
        .await
        .expect("open");
    let runtime: Arc<dyn Runtime> = Arc::new(Podman::new(lab.podman_options()).expect("podman"));
    let api = cordium_server::server::start_driver(api, runtime);
    let (api, bound) = cordium_server::ssh::start(
        api,
        data.path(),
        "127.0.0.1:0".parse().expect("addr"),
        cordium_server::connections::ConnectionLimits::default(),
        std::future::pending(),
    )
    .await
    .expect("ssh");
    let port = bound.port();
    let (channel, token) = support::serve(api, false).await;
    let client: Main =
        pb::main_service_client::MainServiceClient::with_interceptor(channel, Auth::bearer(&token));
    let endpoint = client
        .clone()
        .get_ssh_endpoint(pb::Empty {})
        .await
        .expect("GetSshEndpoint")
        .into_inner();
    let known_hosts = data.path().join("known_hosts");
    let pinned = format!("[127.0.0.1]:{port} {}\n", endpoint.host_key);
    std::fs::write(&known_hosts, pinned).expect("known_hosts");
    let key = data.path().join("id_ed25519");
    assert!(
        Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-f"])
            .arg(&key)
            .status()
            .expect("ssh-keygen")
            .success()
    );
    client
        .clone()
        .add_ssh_key(pb::AddSshKeyRequest {
            public_key: std::fs::read_to_string(key.with_extension("pub")).expect("pub"),
        })
        .await
        .expect("AddSshKey");
    let spec = serde_json::json!({"image": {"registry": {"url": lab.image}}});
    let ws = client
        .clone()
        .create_workspace(pb::Workspace {
            metadata: None,
            spec: Some(cordium_api::json::json_to_struct(&spec).into()),
            status: None,
        })
        .await
        .expect("CreateWorkspace")
        .into_inner();
    let name = ws.metadata.expect("metadata").name;
    client
        .clone()
        .start_workspace(pb::StartWorkspaceRequest {
            name: name.clone(),
            vars: Vec::new(),
        })
        .await
        .expect("StartWorkspace");
    let mut ssh_args: Vec<String> = [
        "-F",
        "/dev/null",
        "-o",
        "BatchMode=yes",
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        "StrictHostKeyChecking=yes",
        "-p",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    ssh_args.push(port.to_string());
    ssh_args.push("-o".into());
    ssh_args.push(format!("UserKnownHostsFile={}", known_hosts.display()));
    ssh_args.push("-i".into());
    ssh_args.push(key.display().to_string());
    ssh_args.push(format!("{name}@127.0.0.1"));
    let ssh = |remote: &str| {
        let mut command = Command::new("ssh");
        command
            .env_remove("SSH_AUTH_SOCK")
            .args(&ssh_args)
            .arg(remote);
        command
    };
    // Wait for the workspace to run (the first session that works).
    for _ in 0..600 {
        if ssh("true")
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let container = format!("cdm-{name}");
    let podman_argv = |tty: bool, rest: &[&str]| {
        let mut argv = vec![
            "env".to_owned(),
            format!("CONTAINERS_CONF={}", lab.containers_conf().display()),
            "podman".to_owned(),
            "exec".to_owned(),
        ];
        if tty {
            argv.push("-it".to_owned());
        }
        argv.push(container.clone());
        argv.extend(rest.iter().map(|s| (*s).to_owned()));
        argv
    };

    let mut ssh_keys_argv = vec!["ssh".to_owned()];
    ssh_keys_argv.extend(ssh_args.iter().cloned());
    ssh_keys_argv.insert(1, "-tt".to_owned());
    ssh_keys_argv.push("cat".to_owned());
    let (direct_median, direct_p90) = keystrokes(&podman_argv(true, &["cat"]));
    let (ssh_median, ssh_p90) = keystrokes(&ssh_keys_argv);
    println!(
        "keystroke round trip: podman exec -it {direct_median:.2} ms (p90 {direct_p90:.2}), ssh {ssh_median:.2} ms (p90 {ssh_p90:.2}); ratio {:.2}x, target at most 1.5x + 2 ms = {:.2} ms: {}",
        ssh_median / direct_median,
        direct_median * 1.5 + 2.0,
        if ssh_median <= direct_median * 1.5 + 2.0 {
            "met"
        } else {
            "NOT met"
        }
    );

    let bytes = env_number("BULK_MB", 200) * 1_000_000;
    let head = format!("head -c {bytes} /dev/zero");
    let argv = podman_argv(false, &["sh", "-c", &head]);
    let mut direct = Command::new("sh");
    direct.arg("-c").arg(format!(
        "{} | cat",
        argv.iter()
            .map(|a| format!("'{a}'"))
            .collect::<Vec<_>>()
            .join(" ")
    ));
    let direct_rate = throughput(direct, bytes);
    let ssh_rate = throughput(ssh(&head), bytes);
    println!(
        "bulk stdout ({} MB): podman exec | cat {direct_rate:.0} MB/s, ssh {ssh_rate:.0} MB/s; ratio {:.2}, target at least 0.5: {}",
        bytes / 1_000_000,
        ssh_rate / direct_rate,
        if ssh_rate >= direct_rate * 0.5 {
            "met"
        } else {
            "NOT met"
        }
    );
    let _ = client
        .clone()
        .stop_workspace(pb::StopWorkspaceRequest { name })
        .await;
    tokio::time::sleep(Duration::from_secs(8)).await;
}
