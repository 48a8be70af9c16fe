//! The server the podman end-to-end tests (tests/run.rs) and the stream bench
//! (benches/stream.rs) share: in this process, with the lifecycle driver on podman (the lab of
//! [`cordium_testkit::lab`]), and its users as `cordium` sees them.

#![allow(dead_code, reason = "the bench uses a part")]

use super::support::{self, Run};
use cordium_provisioner::podman::Podman;
use cordium_server::crypto::{hash_token, new_token};
use cordium_server::server;
use cordium_testkit::lab;
use std::collections::HashMap;
use std::io::{BufRead as _, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, OnceLock, mpsc};
use std::time::Duration;

/// The users the tests log in as, one per test.
const USERS: [&str; 9] = [
    "runner",
    "missing",
    "failing",
    "secretive",
    "interrupted",
    "terminal",
    "bulk",
    "copier",
    "bench",
];

/// The server every test talks to, and its users' tokens.
pub(crate) struct Server {
    pub(crate) url: String,
    tokens: HashMap<String, String>,
    _data: tempfile::TempDir,
}

/// The server, started on first use; it lives as long as the test process.
pub(crate) fn server() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER.get_or_init(|| {
        let options = lab().podman_options();
        let data = tempfile::tempdir().expect("a temporary data directory");
        let dir = data.path().to_path_buf();
        let (ready_tx, ready_rx) = mpsc::channel();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("a runtime for the server");
            runtime.block_on(async move {
                let api = server::open(&dir, None).await.expect("the store opens");
                let podman = Podman::new(options).expect("the podman backend");
                let api = server::start_driver(api, Arc::new(podman));
                let mut tokens = HashMap::new();
                for user in USERS {
                    let token = new_token().expect("a token");
                    api.store()
                        .add_user(user, &hash_token(&token), false)
                        .await
                        .expect("the user is added");
                    tokens.insert(user.to_owned(), token);
                }
                let listener = server::bind("127.0.0.1:0".parse().expect("an address"))
                    .await
                    .expect("a free port");
                let addr = listener.local_addr().expect("the bound address");
                ready_tx.send((addr, tokens)).expect("the test waits");
                server::serve(api, listener, std::future::pending())
                    .await
                    .expect("the server runs");
            });
        });
        let (addr, tokens) = ready_rx
            .recv_timeout(Duration::from_secs(60))
            .expect("the server starts");
        Server {
            url: format!("http://{addr}"),
            tokens,
            _data: data,
        }
    })
}

/// A `cordium` user of the server: a home folder, and the server and token in the
/// environment.
pub(crate) struct User {
    pub(crate) name: &'static str,
    pub(crate) home: tempfile::TempDir,
}

impl User {
    pub(crate) fn new(name: &'static str) -> Self {
        Self {
            name,
            home: tempfile::tempdir().expect("a home folder"),
        }
    }

    /// `cordium` with this user's environment only; standard error is not a terminal, so
    /// progress is plain lines.
    pub(crate) fn command(&self) -> Command {
        self.command_of(Command::new(env!("CARGO_BIN_EXE_cordium")))
    }

    /// `cmd` (`cordium`, or a program that runs it) with this user's environment only.
    pub(crate) fn command_of(&self, mut cmd: Command) -> Command {
        let server = server();
        cmd.current_dir(self.home.path())
            .env("CORDIUM_CONFIG", self.home.path().join("cordium.json"))
            .env("HOME", self.home.path())
            .env("CORDIUM_SERVER", &server.url)
            .env("CORDIUM_TOKEN", &server.tokens[self.name])
            .env_remove("XDG_CONFIG_HOME")
            .env_remove("CLICOLOR_FORCE")
            .env_remove("NO_COLOR")
            .stdin(Stdio::null());
        cmd
    }

    pub(crate) fn run_with(&self, args: &[&str], stdin: Option<&str>) -> Run {
        support::run_with(self.command(), args, stdin)
    }

    pub(crate) fn run(&self, args: &[&str]) -> Run {
        self.run_with(args, None)
    }

    /// Starts `cordium ARGS` in the background; returns it and a channel of its standard
    /// output lines.
    pub(crate) fn spawn(&self, args: &[&str]) -> (Child, mpsc::Receiver<String>) {
        let mut child = self
            .command()
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cordium starts");
        let stdout = child.stdout.take().expect("stdout is piped");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        (child, rx)
    }

    /// Writes `text` to `name` in the home folder and returns its path.
    pub(crate) fn file(&self, name: &str, text: &str) -> String {
        let path: PathBuf = self.home.path().join(name);
        std::fs::write(&path, text).expect("the file is written");
        path.to_str().expect("a UTF-8 path").to_owned()
    }
}
