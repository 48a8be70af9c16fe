//! Egress rules on real podman (issue 16): nftables in the workspace's own network namespace,
//! loaded before its first process runs, on every start. A small HTTP server on the host,
//! bound to podman's bridge gateway (the host's address as containers see it,
//! `host.containers.internal`), is the destination.

use super::podman::PodmanEnv;
use cordium_testkit::lab;
use std::io::{Read as _, Write as _};

/// An HTTP server on the gateway answering `hello` to every request, on a port of its own;
/// it lives as long as the test process.
fn host_server(gateway: &str) -> u16 {
    let listener = std::net::TcpListener::bind((gateway, 0)).expect("bind on the gateway");
    let port = listener.local_addr().expect("address").port();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let _ = stream.set_read_timeout(Some(std::time::Duration::from_secs(5)));
            let mut buf = [0_u8; 1024];
            let _ = stream.read(&mut buf);
            let _ = stream.write_all(b"HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhello");
        }
    });
    port
}

/// Whether the workspace gets the host server's answer to `GET /`.
async fn reaches(env: &PodmanEnv, name: &str, gateway: &str, port: u16) -> bool {
    let (_, out) = env
        .sh(
            name,
            &format!("printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 {gateway} {port} 2>&1; true"),
        )
        .await;
    out.ends_with("hello")
}

/// Whether a DNS server answers the workspace (an unknown name is NXDOMAIN from a server;
/// an unreachable one is a time-out).
async fn dns_answers(env: &PodmanEnv, name: &str) -> bool {
    let (_, out) = env
        .sh(name, "nslookup cordium-egress-test.invalid 2>&1; true")
        .await;
    out.contains("NXDOMAIN")
}

#[tokio::test(flavor = "multi_thread")]
async fn egress_rules_decide_what_the_workspace_reaches_on_every_start() {
    let env = PodmanEnv::new("egress").await;
    let gateway = lab().gateway();
    let port = host_server(&gateway);
    let allowed = serde_json::json!({"egress": {
        "defaultAction": "DENY",
        "rules": [{"cidrs": [format!("{gateway}/32")], "action": "ALLOW", "ports": [port]}],
    }});
    let deny_all = serde_json::json!({"egress": {
        "rules": [
            {"cidrs": ["0.0.0.0/0", "::/0"], "action": "DENY"},
            {"cidrs": [gateway.clone()], "action": "ALLOW"},
        ],
    }});
    let open = env
        .create(serde_json::json!({"runtime": {"network": allowed}}))
        .await;
    let closed = env
        .create(serde_json::json!({"runtime": {"network": deny_all}}))
        .await;
    let public = env.create(serde_json::json!({})).await;
    for name in [&open, &closed, &public] {
        env.start_running(name).await;
    }

    assert!(
        reaches(&env, &open, &gateway, port).await,
        "an ALLOW rule opens the host's port"
    );
    assert!(
        !reaches(&env, &closed, &gateway, port).await,
        "a DENY rule wins over an ALLOW rule"
    );
    assert!(
        !reaches(&env, &public, &gateway, port).await,
        "ALLOW_PUBLIC does not reach the host"
    );
    assert!(
        dns_answers(&env, &public).await,
        "DNS works under ALLOW_PUBLIC"
    );
    assert!(!dns_answers(&env, &closed).await, "a DENY rule covers DNS");

    // The workspace user cannot remove the rules.
    let (code, _) = env.sh(&open, "ip link set lo down").await;
    assert_ne!(code, 0, "no CAP_NET_ADMIN");

    // A kept container gets a new network namespace at each start: the rules come back.
    env.stop(&closed).await;
    env.start_running(&closed).await;
    assert!(!reaches(&env, &closed, &gateway, port).await);
    env.stop(&open).await;
    env.start_running(&open).await;
    assert!(reaches(&env, &open, &gateway, port).await);
    for name in [&open, &closed, &public] {
        env.stop(name).await;
    }
}

/// An address added to the host's loopback interface for one test, removed when dropped.
struct HostAddress(&'static str);

impl HostAddress {
    fn add(cidr: &'static str) -> Self {
        let status = std::process::Command::new("ip")
            .args(["addr", "add", cidr, "dev", "lo"])
            .status()
            .expect("ip runs");
        assert!(status.success(), "ip addr add {cidr} dev lo");
        Self(cidr)
    }
}

impl Drop for HostAddress {
    fn drop(&mut self) {
        let _ = std::process::Command::new("ip")
            .args(["addr", "del", self.0, "dev", "lo"])
            .status();
    }
}

/// Under ALLOW_PUBLIC a workspace reaches no address of the host, even one that no list of
/// private networks holds (192.88.99.0/24 is an ordinary public range): the hook denies every
/// address of the host's interfaces. An ALLOW rule for it shows the host answers there.
#[tokio::test(flavor = "multi_thread")]
async fn allow_public_reaches_no_address_of_the_host() {
    const ADDRESS: &str = "192.88.99.77";
    let env = PodmanEnv::new("hostaddr").await;
    let _address = HostAddress::add("192.88.99.77/32");
    let port = host_server(ADDRESS);
    let public = env.create(serde_json::json!({})).await;
    let allowed = env
        .create(serde_json::json!({"runtime": {"network": {"egress": {
            "rules": [{"cidrs": [format!("{ADDRESS}/32")], "action": "ALLOW"}],
        }}}}))
        .await;
    for name in [&public, &allowed] {
        env.start_running(name).await;
    }
    assert!(
        reaches(&env, &allowed, ADDRESS, port).await,
        "the host answers on the address when a rule allows it"
    );
    assert!(
        !reaches(&env, &public, ADDRESS, port).await,
        "ALLOW_PUBLIC does not reach the host on it"
    );
    for name in [&public, &allowed] {
        env.stop(name).await;
    }
}
