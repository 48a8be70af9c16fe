//! Working inside a workspace through the stream: `cordium shell` and `exec -it` driven
//! through a real PTY (echo, resize, Ctrl-C, exit code, the terminal restored), 1 GiB each way
//! through `exec` compared by sha256 with the server's memory bounded, `cp` both ways,
//! `port-forward` with 100 concurrent connections, and the applications `get` shows.

use super::*;
use cordium_provisioner::runtime::TermSize;
use rustix::fd::OwnedFd;
use std::io::{Read as _, Write as _};
use std::sync::{Condvar, Mutex};

/// A running workspace of a user on the lab image, with application `web` on port 8080;
/// stopped and deleted when dropped (the server goes with the test process, the container
/// would not).
struct Workspace<'a> {
    user: &'a User,
    name: String,
}

impl Drop for Workspace<'_> {
    fn drop(&mut self) {
        let _ = self.user.run(&["stop", &self.name, "--wait"]);
        let _ = self.user.run(&["delete", "workspace", &self.name]);
    }
}

fn workspace(user: &User) -> Workspace<'_> {
    let r = ok(user.run(&["run", "--image", &lab().image, "--port", "web:8080"]));
    Workspace {
        user,
        name: name_of(&r),
    }
}

/// This test's end of a PTY: what the program on the other end printed, and its keyboard.
struct Terminal {
    master: OwnedFd,
    slave: OwnedFd,
    seen: Arc<(Mutex<Vec<u8>>, Condvar)>,
    read: usize,
}

impl Terminal {
    fn new() -> Self {
        let (master, slave) =
            cordium_provisioner::pty::open(TermSize { cols: 80, rows: 24 }).expect("a PTY");
        let seen = Arc::new((Mutex::new(Vec::new()), Condvar::new()));
        let mut reader = std::fs::File::from(master.try_clone().expect("dup"));
        let shared = Arc::clone(&seen);
        std::thread::spawn(move || {
            let mut buf = [0_u8; 4096];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                let (lock, ready) = &*shared;
                lock.lock().expect("lock").extend_from_slice(&buf[..n]);
                ready.notify_all();
            }
        });
        Self {
            master,
            slave,
            seen,
            read: 0,
        }
    }

    /// `cordium ARGS` on this terminal, as its controlling terminal (so it gets SIGWINCH).
    fn spawn(&self, user: &User, args: &[&str]) -> Child {
        let mut setsid = Command::new("setsid");
        setsid.args(["--ctty", "--wait", env!("CARGO_BIN_EXE_cordium")]);
        let slave = |t: &Self| Stdio::from(t.slave.try_clone().expect("dup"));
        user.command_of(setsid)
            .env("TERM", "xterm")
            .args(args)
            .stdin(slave(self))
            .stdout(slave(self))
            .stderr(slave(self))
            .spawn()
            .expect("cordium starts")
    }

    fn send(&self, bytes: &[u8]) {
        std::fs::File::from(self.master.try_clone().expect("dup"))
            .write_all(bytes)
            .expect("typed");
    }

    /// Waits until the output since the last expectation contains `needle`; returns it.
    fn expect(&mut self, needle: &str) -> String {
        let (lock, ready) = &*self.seen;
        let mut seen = lock.lock().expect("lock");
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            let text = String::from_utf8_lossy(&seen[self.read..]).into_owned();
            if let Some(at) = text.find(needle) {
                self.read += text[..at + needle.len()].len();
                return text;
            }
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            assert!(
                !left.is_zero(),
                "waiting for {needle:?}; the terminal shows {text:?}"
            );
            seen = ready.wait_timeout(seen, left).expect("lock").0;
        }
    }

    fn resize(&self, cols: u16, rows: u16) {
        cordium_provisioner::pty::resize(&self.master, TermSize { cols, rows }).expect("resize");
    }

    /// The terminal's settings (what raw mode changes).
    fn modes(&self) -> String {
        let t = rustix::termios::tcgetattr(&self.slave).expect("tcgetattr");
        format!(
            "{:?} {:?} {:?}",
            t.input_modes, t.output_modes, t.local_modes
        )
    }
}

/// Waits for `child` (at most a minute) and returns its exit code.
fn exit_code(mut child: Child) -> i32 {
    for _ in 0..600 {
        if let Some(status) = child.try_wait().expect("wait") {
            return status.code().expect("an exit code");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    panic!("cordium did not exit");
}

#[test]
fn shell_and_exec_it_on_a_terminal() {
    let user = User::new("terminal");
    let ws = workspace(&user);
    let name = ws.name.clone();
    let mut term = Terminal::new();
    let cooked = term.modes();

    // shell: the login shell echoes, runs as uid 1000, follows a resize, takes Ctrl-C,
    // passes its exit code.
    let shell = term.spawn(&user, &["shell", &name]);
    term.send(b"stty size; echo ready-$((1+1))\r");
    let text = term.expect("ready-2");
    assert!(
        text.contains("stty size; echo ready-$((1+1))"),
        "no echo: {text:?}"
    );
    assert!(text.contains("24 80"), "{text:?}");
    // The shell runs as the workspace user, not container root.
    term.send(b"echo \"uid:$(id -u):\"\r");
    term.expect("uid:1000:");
    term.resize(132, 50);
    let mut followed = false;
    for _ in 0..50 {
        term.send(b"stty size; echo size-$((2+3))\r");
        if term.expect("size-5").contains("50 132") {
            followed = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(followed, "stty size did not follow the resize");
    term.send(b"sleep 300; echo sl''ept\r");
    std::thread::sleep(Duration::from_millis(500));
    term.send(&[3]);
    term.send(b"echo after-$((3+4))\r");
    let text = term.expect("after-7");
    assert!(
        !text.contains("slept"),
        "Ctrl-C did not stop sleep: {text:?}"
    );
    term.send(b"exit 7\r");
    assert_eq!(exit_code(shell), 7);
    assert_eq!(term.modes(), cooked, "the terminal was not restored");

    // exec -it: a command on a terminal; Ctrl-C reaches it as SIGINT.
    let exec = term.spawn(
        &user,
        &[
            "exec",
            "-it",
            &name,
            "--",
            "sh",
            "-c",
            "stty size; read line; echo \"got:$line\"; trap 'echo trapped; exit 9' INT; \
             echo armed; while :; do sleep 1; done",
        ],
    );
    term.expect("50 132");
    term.send(b"abc\r");
    term.expect("got:abc");
    term.expect("armed");
    term.send(&[3]);
    term.expect("trapped");
    assert_eq!(exit_code(exec), 9);
    assert_eq!(term.modes(), cooked, "the terminal was not restored");
}

/// The highest resident set of this process (which runs the server) while `during` runs.
fn peak_rss_growth(during: impl FnOnce()) -> u64 {
    fn rss() -> u64 {
        let status = std::fs::read_to_string("/proc/self/status").expect("status");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse::<u64>().ok())
            .expect("VmRSS")
            * 1024
    }
    let base = rss();
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampler = {
        let done = Arc::clone(&done);
        std::thread::spawn(move || {
            let mut peak = 0;
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                peak = peak.max(rss());
                std::thread::sleep(Duration::from_millis(50));
            }
            peak
        })
    };
    during();
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    sampler.join().expect("sampler").saturating_sub(base)
}

fn sha256_of(text: &str) -> String {
    text.split_whitespace().next().expect("a sum").to_owned()
}

#[test]
fn a_gibibyte_streams_each_way_with_bounded_server_memory() {
    const GIB: &str = "1073741824";
    let user = User::new("bulk");
    let ws = workspace(&user);
    let name = ws.name.clone();
    let script = format!("head -c {GIB} /dev/urandom > /tmp/big && sha256sum /tmp/big");
    let remote = sha256_of(&ok(user.run(&["exec", &name, "--", "sh", "-c", &script])).stdout);

    // Out: `cordium exec ws -- cat big | sha256sum`.
    let mut out_sum = String::new();
    let growth_out = peak_rss_growth(|| {
        let mut pipeline = user.command_of(Command::new("sh"));
        pipeline
            .arg("-c")
            .arg("\"$0\" exec \"$1\" -- cat /tmp/big | sha256sum")
            .arg(env!("CARGO_BIN_EXE_cordium"))
            .arg(&name);
        out_sum = sha256_of(&ok(support::run_with(pipeline, &[], None)).stdout);
    });
    assert_eq!(out_sum, remote, "stdout arrived changed");
    let _ = user.run(&["exec", &name, "--", "rm", "-f", "/tmp/big"]);

    // In: `cordium exec ws -- sha256sum < big`.
    let big = user.home.path().join("big");
    let mut head = Command::new("head");
    head.args(["-c", GIB, "/dev/urandom"])
        .stdout(std::fs::File::create(&big).expect("a local file"));
    assert!(head.status().expect("head").success());
    let local = sha256_of(&cordium_testkit::run(
        Command::new("sha256sum").arg(&big),
        "sha256sum",
    ));
    let mut in_sum = String::new();
    let growth_in = peak_rss_growth(|| {
        let mut exec = user.command();
        exec.args(["exec", &name, "--", "sha256sum"])
            .stdin(std::fs::File::open(&big).expect("the local file"))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let child = exec.spawn().expect("cordium starts");
        in_sum = sha256_of(&ok(finish(child)).stdout);
    });
    std::fs::remove_file(&big).expect("removed");
    assert_eq!(in_sum, local, "stdin arrived changed");
    // Generous: the queues are a few MiB; a buffered gibibyte would be far above.
    let ceiling = 200 << 20;
    assert!(
        growth_out < ceiling && growth_in < ceiling,
        "the server grew by {growth_out} bytes (out) and {growth_in} bytes (in)"
    );
    println!("server RSS growth: out {growth_out} bytes, in {growth_in} bytes");
}

/// Every file under `dir`, with its content, relative to `dir`.
fn tree(dir: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read_dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let rel = path.strip_prefix(dir).expect("under").display().to_string();
                files.push((rel, std::fs::read(&path).expect("read")));
            }
        }
    }
    files.sort();
    files
}

#[test]
fn cp_both_ways_port_forward_and_applications() {
    let user = User::new("copier");
    let ws = workspace(&user);
    let name = ws.name.clone();

    // get shows the application and how to reach it.
    let r = ok(user.run(&["get", "workspace", &name]));
    assert!(
        r.stdout.contains(&format!(
            "#   web  port 8080  reach: cordium port-forward {name} 8080:web"
        )),
        "{r:?}"
    );

    // The application is not published on the host: reaching it takes Cordium's credential.
    let published = std::process::Command::new("podman")
        .args(["port", &format!("cdm-{name}")])
        .output()
        .expect("podman port");
    assert!(published.status.success(), "{published:?}");
    assert_eq!(
        String::from_utf8_lossy(&published.stdout).trim(),
        "",
        "no host port"
    );

    // cp: a folder there and back, a file there, into an existing folder.
    let home = user.home.path();
    std::fs::create_dir_all(home.join("src/sub")).expect("mkdir");
    std::fs::write(home.join("src/a.txt"), "alpha\n").expect("write");
    let binary: Vec<u8> = (0..200_000_u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(home.join("src/sub/b.bin"), &binary).expect("write");
    let there = format!("{name}:/workspace/copy");
    ok(user.run(&["cp", "src", &there]));
    let r = ok(user.run(&["exec", &name, "--", "cat", "/workspace/copy/a.txt"]));
    assert_eq!(r.stdout, "alpha\n");
    ok(user.run(&["cp", &there, "back"]));
    assert_eq!(tree(&home.join("back")), tree(&home.join("src")));
    ok(user.run(&["cp", "src/a.txt", &format!("{name}:/tmp")]));
    let r = ok(user.run(&["exec", &name, "--", "cat", "/tmp/a.txt"]));
    assert_eq!(r.stdout, "alpha\n");
    std::fs::create_dir_all(home.join("into")).expect("mkdir");
    ok(user.run(&["cp", &format!("{name}:/tmp/a.txt"), "into"]));
    assert_eq!(
        std::fs::read_to_string(home.join("into/a.txt")).expect("read"),
        "alpha\n"
    );
    let r = user.run(&["cp", "src", "elsewhere"]);
    assert_eq!(r.code, 2, "{r:?}");

    // port-forward: busybox httpd on the workspace's loopback, 100 connections at once.
    ok(user.run(&[
        "exec",
        &name,
        "--",
        "sh",
        "-c",
        "mkdir -p /tmp/www && echo hello-forward > /tmp/www/index.html && httpd -p 127.0.0.1:8080 -h /tmp/www",
    ]));
    let (mut forward, lines) = user.spawn(&["port-forward", &name, "0:web"]);
    let line = lines
        .recv_timeout(Duration::from_secs(30))
        .expect("port-forward listens");
    let port: u16 = line
        .strip_prefix("Forwarding from 127.0.0.1:")
        .and_then(|rest| rest.split_once(' '))
        .and_then(|(port, _)| port.parse().ok())
        .unwrap_or_else(|| panic!("{line}"));
    let answers: Vec<_> = (0..100)
        .map(|_| {
            std::thread::spawn(move || {
                let mut conn = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connects");
                conn.set_read_timeout(Some(Duration::from_secs(60)))
                    .expect("timeout");
                conn.write_all(b"GET /index.html HTTP/1.0\r\n\r\n")
                    .expect("request");
                let mut answer = String::new();
                conn.read_to_string(&mut answer).expect("answer");
                answer
            })
        })
        .collect();
    for answer in answers {
        let answer = answer.join().expect("a connection");
        assert!(answer.contains("hello-forward"), "{answer}");
    }
    forward.kill().expect("port-forward stops");
    let _ = forward.wait();
}
