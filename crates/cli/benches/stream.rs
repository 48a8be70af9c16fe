//! Stream bench on real podman: the `cordium` binary against the server in process (the lab of
//! [`cordium_testkit::lab`]), each figure beside its baseline measured in the same run.
//!
//! ```text
//! cargo bench -p cordium-cli --bench stream
//! BENCH_KEYS=400 BENCH_MIB=1024 cargo bench -p cordium-cli --bench stream
//! ```
//!
//! - **Keystroke round trip**: one byte typed into the login shell and its echo read back, on
//!   a PTY, through `cordium shell` and through `podman exec -it` of the same container
//!   (median of BENCH_KEYS, default 200). Target: at most 1.5x the baseline plus 2 ms.
//! - **Bulk stdout**: `head -c N /dev/zero` through `cordium exec NAME -- ... | cat` and
//!   through `podman exec CONTAINER ... | cat` (best of three, N = BENCH_MIB MiB, default
//!   512). Target: at least half the baseline's throughput.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    missing_docs,
    unreachable_pub,
    reason = "bench"
)]

#[path = "../tests/support/lab.rs"]
mod lab_server;
#[path = "../tests/support/mod.rs"]
mod support;

use cordium_provisioner::runtime::{TermSize, WorkspaceKey};
use cordium_testkit::lab;
use lab_server::User;
use std::io::{Read as _, Write as _};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Reads from `master` until what was read contains one of `needles`.
fn read_until(master: &mut std::fs::File, needles: &[&[u8]]) {
    let mut seen = Vec::new();
    let mut buf = [0_u8; 4096];
    let found = |seen: &[u8]| {
        needles
            .iter()
            .any(|needle| seen.windows(needle.len()).any(|w| w == *needle))
    };
    while !found(&seen) {
        let n = master.read(&mut buf).expect("read");
        assert!(n > 0, "the terminal closed");
        seen.extend_from_slice(&buf[..n]);
    }
}

/// Median time from typing one byte to reading its echo, in a shell `program` starts on a
/// PTY (as its controlling terminal).
fn keystrokes(mut program: Command, keys: u64) -> Duration {
    let (master, slave) = cordium_provisioner::pty::open(TermSize {
        cols: 200,
        rows: 50,
    })
    .expect("a PTY");
    let end = |fd: &rustix::fd::OwnedFd| Stdio::from(fd.try_clone().expect("dup"));
    let mut child = program
        .env("TERM", "xterm")
        .stdin(end(&slave))
        .stdout(end(&slave))
        .stderr(end(&slave))
        .spawn()
        .expect("starts");
    let mut terminal = std::fs::File::from(master);
    // The shell's own prompt first (nothing typed before the program's raw mode is echoed
    // here), then one that the typed text does not contain.
    // The workspace user's prompt ends in `$ `, root's (a `podman exec` as root) in `# `.
    read_until(&mut terminal, &[b"$ ", b"# "]);
    terminal.write_all(b"PS1='rd''y> '\r").expect("type");
    read_until(&mut terminal, &[b"rdy> "]);
    let mut times = Vec::new();
    let mut buf = [0_u8; 4096];
    for i in 0..keys {
        let started = Instant::now();
        terminal.write_all(b"a").expect("type");
        loop {
            let n = terminal.read(&mut buf).expect("read");
            if buf[..n].contains(&b'a') {
                break;
            }
        }
        times.push(started.elapsed());
        if i % 50 == 49 {
            terminal.write_all(b"\r").expect("type");
            read_until(&mut terminal, &[b"rdy> "]);
        }
    }
    terminal.write_all(b"\rexit\r").expect("type");
    let _ = child.wait();
    times.sort();
    times[times.len() / 2]
}

/// The best time of three runs of the command `command` makes.
fn best_of_three(mut command: impl FnMut() -> Command) -> Duration {
    (0..3)
        .map(|_| {
            let started = Instant::now();
            let status = command().status().expect("runs");
            assert!(status.success(), "the transfer failed");
            started.elapsed()
        })
        .min()
        .expect("three runs")
}

fn main() {
    let keys = env_number("BENCH_KEYS", 200);
    let mib = env_number("BENCH_MIB", 512);
    let user = User::new("bench");
    let r = user.run(&["run", "--image", &lab().image]);
    assert_eq!(r.code, 0, "{r:?}");
    let name = r.stdout.trim().to_owned();
    let container = WorkspaceKey::new("default.bench", &name).object_name();
    let cordium = env!("CARGO_BIN_EXE_cordium");
    let under_setsid = |args: &[&str]| {
        let mut setsid = Command::new("setsid");
        setsid.args(["--ctty", "--wait"]).args(args);
        setsid
    };

    let ours = keystrokes(
        user.command_of(under_setsid(&[cordium, "shell", &name])),
        keys,
    );
    let mut podman = under_setsid(&[
        "podman", "exec", "-it", "--user", "1000", &container, "/bin/sh", "-l",
    ]);
    podman.env("CONTAINERS_CONF", lab().containers_conf());
    let baseline = keystrokes(podman, keys);
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let target = ms(baseline) * 1.5 + 2.0;
    println!(
        "keystroke round trip (median of {keys}): cordium shell {:.2} ms, podman exec -it {:.2} ms, \
         ratio {:.2}; target <= {target:.2} ms: {}",
        ms(ours),
        ms(baseline),
        ms(ours) / ms(baseline),
        if ms(ours) <= target { "met" } else { "NOT met" }
    );

    let bytes = (mib << 20).to_string();
    let ours = best_of_three(|| {
        let mut sh = user.command_of(Command::new("sh"));
        sh.arg("-c")
            .arg("\"$0\" exec \"$1\" -- head -c \"$2\" /dev/zero | cat >/dev/null")
            .args([cordium, &name, &bytes]);
        sh
    });
    let baseline = best_of_three(|| {
        let mut sh_cat = Command::new("sh");
        sh_cat
            .arg("-c")
            .arg("CONTAINERS_CONF=\"$0\" podman exec \"$1\" head -c \"$2\" /dev/zero | cat >/dev/null")
            .arg(lab().containers_conf())
            .args([&container, &bytes]);
        sh_cat
    });
    let rate = |d: Duration| mib as f64 / d.as_secs_f64();
    println!(
        "bulk stdout ({mib} MiB, best of 3): cordium exec {:.0} MiB/s, podman exec | cat {:.0} MiB/s, \
         ratio {:.2}; target >= 0.5: {}",
        rate(ours),
        rate(baseline),
        rate(ours) / rate(baseline),
        if rate(ours) >= rate(baseline) * 0.5 {
            "met"
        } else {
            "NOT met"
        }
    );
    let _ = user.run(&["stop", &name, "--wait"]);
    let _ = user.run(&["delete", "workspace", &name]);
}
