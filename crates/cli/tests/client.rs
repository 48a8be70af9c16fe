//! End-to-end tests of the server commands (`login`, `create`, `get`, `list`, `update`,
//! `delete`, `start`, `stop`, `watch`, `build`): the real `cordium` binary against the real
//! server.
//!
//! Cargo does not build the binaries of dependencies, so each test runs the server in this
//! process, exactly as `cordium-server serve` does (`server::open` on a temporary data
//! directory, `server::serve` on a free port), and adds its users as `cordium-server user add`
//! does. Every `cordium` run gets its own `CORDIUM_CONFIG` and `HOME`, no `CORDIUM_SERVER` or
//! `CORDIUM_TOKEN` from the developer's shell, and `NO_COLOR`.

mod support;

use cordium_server::crypto::{hash_token, new_token};
use cordium_server::server;
use std::io::{BufRead as _, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;
use support::{Run, root};

/// A server on a free port with a fresh data directory, and the tokens of its users.
struct Server {
    url: String,
    alice: String,
    bob: String,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    _data: tempfile::TempDir,
}

impl Server {
    fn start() -> Self {
        let data = tempfile::tempdir().expect("a temporary data directory");
        let dir = data.path().to_path_buf();
        let (ready_tx, ready_rx) = mpsc::channel();
        let (shutdown_tx, shutdown_rx) = tokio::sync::oneshot::channel::<()>();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("a runtime for the server");
            runtime.block_on(async move {
                let api = server::open(&dir, None).await.expect("the store opens");
                let mut tokens = Vec::new();
                for user in ["alice", "bob"] {
                    let token = new_token().expect("a token");
                    api.store()
                        .add_user(user, &hash_token(&token), false)
                        .await
                        .expect("the user is added");
                    tokens.push(token);
                }
                // SSH too, as `serve --ssh-listen` (this server runs no workspaces).
                let host_key = cordium_server::ssh::host_key::load_or_create(
                    &dir.join(cordium_server::ssh::host_key::HOST_KEY_FILE),
                )
                .expect("the host key");
                let ssh = server::bind("127.0.0.1:0".parse().expect("an address"))
                    .await
                    .expect("a free port");
                let ssh_port = ssh.local_addr().expect("the bound address").port();
                let api = api.with_ssh_endpoint(cordium_server::ssh::endpoint(&host_key, ssh_port));
                tokio::spawn(cordium_server::ssh::serve(
                    api.clone(),
                    host_key,
                    ssh,
                    cordium_server::connections::ConnectionLimits::default(),
                    std::future::pending(),
                ));
                let listener = server::bind("127.0.0.1:0".parse().expect("an address"))
                    .await
                    .expect("a free port");
                let addr = listener.local_addr().expect("the bound address");
                ready_tx.send((addr, tokens)).expect("the test waits");
                server::serve(api, listener, async {
                    let _ = shutdown_rx.await;
                })
                .await
                .expect("the server runs");
            });
        });
        let (addr, mut tokens) = ready_rx
            .recv_timeout(Duration::from_secs(60))
            .expect("the server starts");
        let bob = tokens.pop().expect("bob's token");
        let alice = tokens.pop().expect("alice's token");
        Self {
            url: format!("http://{addr}"),
            alice,
            bob,
            shutdown: Some(shutdown_tx),
            _data: data,
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// A `cordium` user: a home folder and a config file of their own.
struct User {
    home: tempfile::TempDir,
}

impl User {
    fn new() -> Self {
        Self {
            home: tempfile::tempdir().expect("a home folder"),
        }
    }

    fn config(&self) -> PathBuf {
        self.home.path().join("cordium.json")
    }

    /// `cordium` in the repository root, with this user's environment only.
    fn command(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_cordium"));
        cmd.current_dir(root())
            .env("CORDIUM_CONFIG", self.config())
            .env("HOME", self.home.path())
            .env("NO_COLOR", "1")
            .env_remove("CORDIUM_SERVER")
            .env_remove("CORDIUM_TOKEN")
            .env_remove("XDG_CONFIG_HOME")
            .env_remove("CLICOLOR_FORCE")
            .env_remove("SSH_AUTH_SOCK")
            .stdin(Stdio::null());
        cmd
    }

    /// Runs `cordium ARGS`, feeding `stdin` when given.
    fn run_with(&self, args: &[&str], stdin: Option<&str>) -> Run {
        support::run_with(self.command(), args, stdin)
    }

    fn run(&self, args: &[&str]) -> Run {
        self.run_with(args, None)
    }

    /// Writes `text` to `name` in the home folder and returns its path.
    fn file(&self, name: &str, text: &str) -> String {
        let path = self.home.path().join(name);
        std::fs::write(&path, text).expect("the file is written");
        path.to_str().expect("a UTF-8 path").to_owned()
    }
}

/// Asserts a successful run.
#[track_caller]
fn ok(run: Run) -> Run {
    assert_eq!(run.code, 0, "{run:?}");
    run
}

fn json(run: &Run) -> serde_json::Value {
    serde_json::from_str(&run.stdout).expect("the output is JSON")
}

/// A user logged in to a fresh server as alice.
fn logged_in() -> (Server, User) {
    let server = Server::start();
    let user = User::new();
    ok(user.run(&["login", "--server", &server.url, "--token", &server.alice]));
    (server, user)
}

const SPACE: &str = "\
apiVersion: cordium/v1
kind: Space
metadata:
  name: team.alice
  displayName: Alice's team
  labels: {tier: dev, cost-center: r-and-d}
spec:
  limit:
    maxLimit:
      cpu: {millicores: 8000}
";

/// Named `<template>.<space>`, as Template documents are.
const TEMPLATE: &str = "\
apiVersion: cordium/v1
kind: Template
metadata:
  name: python.team.alice
  description: Python services
spec:
  image:
    registry:
      url: python:3.11-slim
  vars:
    - name: BRANCH
      value: main
";

const SECRET: &str = "\
apiVersion: cordium/v1
kind: Secret
metadata:
  name: my-api-key
spec: {}
";

const SECRET_VALUE: &str = "s3cr3t-VALUE-that-must-not-leak";

const WORKSPACE: &str = "fixtures/examples/workspace.yaml";

#[test]
fn a_whole_session_against_a_real_server() {
    let (server, user) = logged_in();
    // Everything printed, to check that the secret's value never is.
    let outputs = std::cell::RefCell::new(Vec::new());
    let run = |args: &[&str], stdin: Option<&str>| {
        let r = user.run_with(args, stdin);
        outputs
            .borrow_mut()
            .push(format!("{}{}", r.stdout, r.stderr));
        r
    };

    // A Space, from a document.
    let space = user.file("space.yaml", SPACE);
    let r = ok(run(&["create", "space", "-f", &space], None));
    assert!(
        r.stdout.starts_with(
            "apiVersion: cordium/v1\nkind: Space\nmetadata:\n  name: team.alice\n  displayName: Alice's team\n  labels:\n    cost-center: r-and-d\n    tier: dev\n  uid: "
        ),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("  resourceVersion: 1\nspec:\n  limit:\n    maxLimit:\n      cpu:\n        millicores: 8000\nstatus:\n  owner: alice\n  type: USER\n"), "{}", r.stdout);

    // A Template named `python.team.alice`: Template `python` of Space `team.alice`.
    let template = user.file("template.yaml", TEMPLATE);
    let r = ok(run(&["create", "template", "-f", &template], None));
    assert!(
        r.stdout.contains(
            "kind: Template\nmetadata:\n  name: python\n  description: Python services\n"
        ),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("status:\n  space: team.alice\n  owner: alice\n"),
        "{}",
        r.stdout
    );

    // A Secret whose value comes from standard input and is never printed.
    let secret = user.file("secret.yaml", SECRET);
    let r = ok(run(
        &[
            "create",
            "secret",
            "-f",
            &secret,
            "--space",
            "team.alice",
            "--value-stdin",
        ],
        Some(SECRET_VALUE),
    ));
    assert!(
        r.stdout
            .contains("kind: Secret\nmetadata:\n  name: my-api-key\n"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("status:\n  space: team.alice\n  owner: alice\n"),
        "{}",
        r.stdout
    );
    let r = ok(run(
        &["list", "secret", "--space", "team.alice", "-o", "json"],
        None,
    ));
    let secrets = json(&r);
    assert_eq!(secrets.as_array().map(Vec::len), Some(1), "{secrets}");
    assert_eq!(secrets[0]["metadata"]["name"], "my-api-key");
    assert_eq!(secrets[0].get("data"), None);

    // A Workspace from the example document, in that Space and Template; the server names it.
    let r = ok(run(
        &[
            "create",
            "workspace",
            "-f",
            WORKSPACE,
            "--space",
            "team.alice",
            "--template",
            "python",
            "-o",
            "json",
        ],
        None,
    ));
    let ws = json(&r);
    let name = ws["metadata"]["name"]
        .as_str()
        .expect("a generated name")
        .to_owned();
    assert!((3..=6).contains(&name.len()), "{name}");
    assert_eq!(ws["status"]["state"], "STOPPED");
    assert_eq!(ws["status"]["space"], "team.alice");
    assert_eq!(ws["status"]["template"], "python");
    assert_eq!(ws["spec"]["limit"]["cpu"]["millicores"], 16000);
    assert_eq!(
        ws["spec"]["runtime"]["envVars"][0]["fromSecret"],
        "my-api-key"
    );

    // A kind-less `spec:` document is a Workspace too; without --space it lands in the
    // caller's default Space.
    let r = ok(run(
        &[
            "create",
            "workspace",
            "--file",
            "fixtures/valid/workspace-kindless.yaml",
            "-o",
            "name",
        ],
        None,
    ));
    let other = r.stdout.trim().to_owned();
    let r = ok(run(&["get", "workspace", &other], None));
    assert!(
        r.stdout
            .contains("  space: default.alice\n  template: default\n"),
        "{}",
        r.stdout
    );

    // get: YAML (fixed field order) and JSON.
    let r = ok(run(&["get", "workspace", &name], None));
    // A random name can read as a number (`476`); YAML then quotes it so it stays a string.
    let heading = |shown: &str| {
        format!("apiVersion: cordium/v1\nkind: Workspace\nmetadata:\n  name: {shown}\n  uid: ")
    };
    assert!(
        r.stdout.starts_with(&heading(&name))
            || r.stdout.starts_with(&heading(&format!("\"{name}\""))),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("\nstatus:\n  state: STOPPED\n  owner: alice\n  space: team.alice\n  template: python\n  stateChangedAt: "), "{}", r.stdout);
    let r = ok(run(&["get", "workspace", &name, "-o", "json"], None));
    assert_eq!(json(&r)["metadata"]["name"], name.as_str());
    let r = ok(run(&["get", "template", "team.alice/python"], None));
    assert!(r.stdout.contains("  name: python\n"), "{}", r.stdout);
    let r = ok(run(
        &[
            "get",
            "template",
            "python",
            "--space",
            "team.alice",
            "-o",
            "name",
        ],
        None,
    ));
    assert_eq!(r.stdout, "team.alice/python\n");

    // list: a YAML stream of documents, or a JSON array; filtered by Space and Template.
    let r = ok(run(&["list", "workspace"], None));
    assert_eq!(
        r.stdout.matches("kind: Workspace\n").count(),
        2,
        "{}",
        r.stdout
    );
    assert_eq!(r.stdout.matches("\n---\n").count(), 1, "{}", r.stdout);
    let r = ok(run(
        &[
            "list",
            "workspaces",
            "--space",
            "team.alice",
            "--template",
            "python",
            "-o",
            "json",
        ],
        None,
    ));
    let items = json(&r);
    assert_eq!(items.as_array().map(Vec::len), Some(1), "{items}");
    assert_eq!(items[0]["metadata"]["name"], name.as_str());
    let r = ok(run(
        &["list", "template", "--space", "team.alice", "-o", "name"],
        None,
    ));
    let mut templates: Vec<&str> = r.stdout.lines().collect();
    templates.sort_unstable();
    assert_eq!(templates, ["team.alice/default", "team.alice/python"]);
    let r = ok(run(&["list", "space", "-o", "name"], None));
    assert!(r.stdout.lines().any(|l| l == "team.alice"), "{}", r.stdout);

    // watch, then start: the watcher prints the state change.
    let mut watcher = user
        .command()
        .args(["watch", &name])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cordium watch starts");
    let lines = lines_of(&mut watcher);
    let ready = BufReader::new(watcher.stderr.take().expect("stderr is piped"))
        .lines()
        .next()
        .and_then(Result::ok)
        .unwrap_or_default();
    assert!(
        ready.starts_with(&format!("watching workspace {name} on {}", server.url)),
        "{ready}"
    );
    let r = ok(run(&["start", &name, "--var", "BRANCH=dev"], None));
    assert!(
        r.stdout.contains("\nstatus:\n  state: INIT_REQUEST\n"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("  runVars:\n  - name: BRANCH\n    value: dev\n"),
        "{}",
        r.stdout
    );
    let line = lines
        .recv_timeout(Duration::from_secs(30))
        .expect("an event line");
    assert_eq!(line, format!("updated {name} STOPPED -> INIT_REQUEST"));
    let _ = watcher.kill();
    let _ = watcher.wait();

    // Starting twice is refused; stop asks the provisioner to stop it.
    let r = run(&["start", &name], None);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.starts_with("error: AlreadyExists: "),
        "{}",
        r.stderr
    );
    let r = ok(run(&["stop", &name, "-o", "json"], None));
    assert_eq!(json(&r)["status"]["state"], "STOPPING_REQUEST");

    // update: what `get` prints can be edited and sent back; a stale copy is refused.
    let printed = ok(run(&["get", "workspace", &name], None)).stdout;
    assert!(printed.contains("  resourceVersion: "), "{printed}");
    let edited = printed.replace("millicores: 16000", "millicores: 4000");
    let file = user.file("ws.yaml", &edited);
    let r = ok(run(
        &["update", "workspace", "-f", &file, "-o", "json"],
        None,
    ));
    let updated = json(&r);
    assert_eq!(updated["spec"]["limit"]["cpu"]["millicores"], 4000);
    assert_eq!(
        updated["status"]["state"], "STOPPING_REQUEST",
        "the status is the server's"
    );
    let r = run(&["update", "workspace", "-f", &file], None);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.starts_with("error: Aborted: "), "{}", r.stderr);

    // Templates: update by document and Space flag; the Template can be pre-built.
    let changed = TEMPLATE.replace("python:3.11-slim", "python:3.12-slim");
    let file = user.file("template2.yaml", &changed);
    let r = ok(run(
        &["update", "template", "-f", &file, "-o", "json"],
        None,
    ));
    assert_eq!(
        json(&r)["spec"]["image"]["registry"]["url"],
        "python:3.12-slim"
    );
    let r = ok(run(&["build", "team.alice/python", "-o", "json"], None));
    let built = json(&r);
    let build_id = built["status"]["currentRunningBuildId"]
        .as_str()
        .unwrap_or_default();
    assert_eq!(build_id.len(), 6, "{built}");

    // A Secret's value can be replaced from a file; the value never shows.
    let value_file = user.file("value.txt", "another-secret-VALUE");
    ok(run(
        &[
            "update",
            "secret",
            "-f",
            &secret,
            "--space",
            "team.alice",
            "--value-from-file",
            &value_file,
        ],
        None,
    ));

    // delete, in both spellings of a Space-scoped name.
    let r = ok(run(&["delete", "workspace", &other], None));
    assert_eq!(r.stdout, format!("deleted Workspace {other}\n"));
    let r = run(&["get", "workspace", &other], None);
    assert_eq!(r.code, 1, "{r:?}");
    let r = ok(run(&["delete", "secret", "team.alice/my-api-key"], None));
    assert_eq!(r.stdout, "deleted Secret team.alice/my-api-key\n");
    let r = run(
        &["delete", "template", "default", "--space", "team.alice"],
        None,
    );
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.starts_with("error: FailedPrecondition: "),
        "{}",
        r.stderr
    );

    for output in outputs.borrow().iter() {
        assert!(
            !output.contains(SECRET_VALUE),
            "the secret leaked: {output}"
        );
        assert!(
            !output.contains("another-secret-VALUE"),
            "the secret leaked: {output}"
        );
    }
}

/// Standard output of `child`, line by line, through a channel (so a test can wait with a
/// timeout).
fn lines_of(child: &mut Child) -> mpsc::Receiver<String> {
    let stdout = child.stdout.take().expect("stdout is piped");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    rx
}

#[test]
fn login_saves_the_server_and_token_for_the_owner_only() {
    let (server, user) = logged_in();
    let text = std::fs::read_to_string(user.config()).expect("the login is saved");
    let saved: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    assert_eq!(saved["server"], server.url.as_str());
    assert_eq!(saved["token"], server.alice.as_str());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(user.config())
            .expect("the file")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // Flags override the file: bob sees none of alice's Spaces.
    let space = user.file("space.yaml", SPACE);
    ok(user.run(&["create", "space", "-f", &space]));
    let r = ok(user.run(&["list", "space", "-o", "name", "--token", &server.bob]));
    assert!(!r.stdout.contains("team.alice"), "{}", r.stdout);
}

#[test]
fn login_goes_to_xdg_config_home_without_cordium_config() {
    let server = Server::start();
    let user = User::new();
    let xdg = user.home.path().join("xdg");
    let r = user
        .command()
        .env_remove("CORDIUM_CONFIG")
        .env("XDG_CONFIG_HOME", &xdg)
        .args(["login", "--server", &server.url, "--token", &server.alice])
        .output()
        .expect("cordium runs");
    assert_eq!(r.status.code(), Some(0), "{r:?}");
    assert!(xdg.join("cordium/config.json").is_file());
    assert!(
        String::from_utf8_lossy(&r.stdout)
            .starts_with(&format!("logged in to {} as alice; saved to ", server.url))
    );
}

#[test]
fn environment_variables_stand_in_for_a_login() {
    let server = Server::start();
    let user = User::new();
    let r = user
        .command()
        .env("CORDIUM_SERVER", &server.url)
        .env("CORDIUM_TOKEN", &server.alice)
        .args(["list", "workspace", "-o", "json"])
        .output()
        .expect("cordium runs");
    assert_eq!(r.status.code(), Some(0), "{r:?}");
    assert_eq!(String::from_utf8_lossy(&r.stdout), "[]\n");
}

#[test]
fn an_invalid_document_gets_our_diagnostics_and_is_not_sent() {
    let (_server, user) = logged_in();
    let r = user.run(&[
        "create",
        "workspace",
        "-f",
        "fixtures/invalid/readme-typos.yaml",
    ]);
    assert_eq!(r.code, 1, "{r:?}");
    assert_eq!(r.stdout, "");
    assert!(r.stderr.starts_with("error[spec::type]: expected a boolean, found a string\n --> fixtures/invalid/readme-typos.yaml:5:16\n"), "{}", r.stderr);
    assert!(
        r.stderr.contains("= help: did you mean `envVars`?"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.ends_with("error: 2 problems found\n"),
        "{}",
        r.stderr
    );
    let r = ok(user.run(&["list", "workspace", "-o", "json"]));
    assert_eq!(r.stdout, "[]\n", "nothing was created");
}

#[test]
fn a_document_of_another_kind_is_a_usage_error() {
    let user = User::new();
    let r = user.run(&["create", "space", "-f", "fixtures/examples/template.yaml"]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr
            .contains("holds a Template document, not a Space; use `template`"),
        "{}",
        r.stderr
    );
}

#[test]
fn the_server_refusing_the_input_is_exit_1() {
    let (_server, user) = logged_in();
    let r = user.run(&["get", "workspace", "nope"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert_eq!(r.stderr, "error: NotFound: Workspace `nope` not found\n");

    let bobs = user.file("bob.yaml", &SPACE.replace("team.alice", "team.bob"));
    let r = user.run(&["create", "space", "-f", &bobs]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr
            .starts_with("error: InvalidArgument: metadata.name: a Space is named `<name>.alice`"),
        "{}",
        r.stderr
    );

    let space = user.file("space.yaml", SPACE);
    ok(user.run(&["create", "space", "-f", &space]));
    let r = user.run(&["create", "space", "-f", &space]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.starts_with("error: AlreadyExists: "),
        "{}",
        r.stderr
    );

    let r = ok(user.run(&[
        "create",
        "workspace",
        "-f",
        WORKSPACE,
        "--space",
        "team.alice",
        "-o",
        "name",
    ]));
    let r = user.run(&["stop", r.stdout.trim()]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.starts_with("error: FailedPrecondition: "),
        "{}",
        r.stderr
    );
}

#[test]
fn a_bad_token_is_a_usage_error() {
    let server = Server::start();
    let user = User::new();
    let r = user.run(&[
        "login",
        "--server",
        &server.url,
        "--token",
        "cdm_not-a-real-token",
    ]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr
            .starts_with("error: Unauthenticated: unknown or revoked token\n"),
        "{}",
        r.stderr
    );
    assert!(!user.config().exists(), "a refused login is not saved");
    let r = user.run(&[
        "get",
        "space",
        "team.alice",
        "--server",
        &server.url,
        "--token",
        "cdm_nope",
    ]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr
            .contains(&format!("help: {} did not accept the token", server.url)),
        "{}",
        r.stderr
    );
}

#[test]
fn an_unreachable_server_is_named() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let user = User::new();
    let r = user.run(&[
        "list",
        "space",
        "--server",
        &format!("127.0.0.1:{port}"),
        "--token",
        "cdm_x",
    ]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr.starts_with(&format!(
            "error: cannot reach the Cordium server at http://127.0.0.1:{port}: "
        )),
        "{}",
        r.stderr
    );
}

#[test]
fn no_server_configured_is_a_usage_error() {
    let user = User::new();
    let r = user.run(&["list", "workspace"]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr
            .starts_with("error: no server configured: run `cordium login"),
        "{}",
        r.stderr
    );
}

#[test]
fn secret_values_never_come_from_the_command_line() {
    let user = User::new();
    let r = user.run(&[
        "create",
        "secret",
        "-f",
        "fixtures/valid/secret.yaml",
        "--value",
        "x",
    ]);
    assert_eq!(r.code, 2, "{r:?}");
    let secret = user.file("secret.yaml", SECRET);
    let r = user.run(&[
        "create",
        "secret",
        "-f",
        &secret,
        "--space",
        "team.alice",
        "--server",
        "http://127.0.0.1:9",
        "--token",
        "t",
    ]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr
            .starts_with("error: a Secret needs a value: --value-from-file FILE, --value-stdin"),
        "{}",
        r.stderr
    );
    let r = user.run(&["create", "secret", "-f", "-", "--value-stdin"]);
    assert_eq!(r.code, 2, "{r:?}");
}

#[test]
fn user_secrets_hold_a_value_or_a_generated_ssh_key() {
    let (_server, user) = logged_in();
    let r = ok(user.run(&[
        "create",
        "usersecret",
        "-f",
        "fixtures/valid/usersecret-ssh-key.yaml",
    ]));
    assert!(r.stdout.starts_with("ecdsa-sha2-nistp256 "), "{}", r.stdout);
    assert!(
        r.stdout.trim_end().ends_with("alice@cordium"),
        "{}",
        r.stdout
    );
    assert_eq!(r.stdout.lines().count(), 1, "{}", r.stdout);

    let doc = "apiVersion: cordium/v1\nkind: UserSecret\nmetadata: {name: laptop-key}\n";
    let file = user.file("key.yaml", doc);
    let r = ok(user.run(&[
        "create",
        "usersecret",
        "-f",
        &file,
        "--type",
        "ssh-key",
        "-o",
        "json",
    ]));
    let created = json(&r);
    assert_eq!(created["spec"]["type"], "SSH_KEY");
    assert!(
        created["status"]["sshPublicKey"]
            .as_str()
            .is_some_and(|k| k.starts_with("ecdsa-sha2-nistp256 ")),
        "{created}"
    );

    let r = ok(user.run(&[
        "create",
        "usersecret",
        "-f",
        "fixtures/valid/usersecret-default.yaml",
    ]));
    assert!(r.stdout.contains("kind: UserSecret\n"), "{}", r.stdout);
    assert!(!r.stdout.contains("ghp_example"), "{}", r.stdout);
    let r = ok(user.run(&["list", "usersecret", "-o", "name"]));
    let mut names: Vec<&str> = r.stdout.lines().collect();
    names.sort_unstable();
    assert_eq!(names, ["deploy-key", "github-pat", "laptop-key"]);
}

#[test]
fn git_providers_live_in_a_space() {
    let (_server, user) = logged_in();
    let space = user.file("space.yaml", SPACE);
    ok(user.run(&["create", "space", "-f", &space]));
    let r = user.run(&[
        "create",
        "gitprovider",
        "-f",
        "fixtures/valid/gitprovider-github.yaml",
    ]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr.contains("say which Space the GitProvider is in"),
        "{}",
        r.stderr
    );
    let r = ok(user.run(&[
        "create",
        "gitprovider",
        "-f",
        "fixtures/valid/gitprovider-github.yaml",
        "--space",
        "team.alice",
    ]));
    assert!(
        r.stdout
            .contains("spec:\n  github:\n    clientID: Iv1.8a61f9b3a7aba766\n"),
        "{}",
        r.stdout
    );
    let r = ok(user.run(&[
        "get",
        "gitprovider",
        "github-acme",
        "--space",
        "team.alice",
        "-o",
        "name",
    ]));
    assert_eq!(r.stdout, "team.alice/github-acme\n");
}

#[test]
fn watching_everything_shows_creations_and_deletions() {
    let (_server, user) = logged_in();
    let mut watcher = user
        .command()
        .args(["watch"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cordium watch starts");
    let lines = lines_of(&mut watcher);
    let ready = BufReader::new(watcher.stderr.take().expect("stderr is piped"))
        .lines()
        .next()
        .and_then(Result::ok)
        .unwrap_or_default();
    assert!(
        ready.starts_with("watching every workspace you can see"),
        "{ready}"
    );
    let name = ok(user.run(&["create", "workspace", "-f", WORKSPACE, "-o", "name"]))
        .stdout
        .trim()
        .to_owned();
    ok(user.run(&["delete", "workspace", &name]));
    let first = lines
        .recv_timeout(Duration::from_secs(30))
        .expect("an event line");
    let second = lines
        .recv_timeout(Duration::from_secs(30))
        .expect("an event line");
    let _ = watcher.kill();
    let _ = watcher.wait();
    assert_eq!(first, format!("created {name} STOPPED"));
    assert_eq!(second, format!("deleted {name} STOPPED"));
}

#[test]
fn ssh_keys_ssh_config_and_ssh_through_the_cli() {
    let (_server, user) = logged_in();
    let key = user.home.path().join("id_ed25519");
    let keygen = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "alice@laptop", "-f"])
        .arg(&key)
        .status()
        .expect("ssh-keygen (apt-get install openssh-client)");
    assert!(keygen.success());
    let public = format!("{}.pub", key.display());
    let added = ok(user.run(&["ssh-key", "add", &public]));
    let fields: Vec<&str> = added.stdout.split_whitespace().collect();
    assert_eq!(fields.len(), 4, "{added:?}");
    let id = fields[0].to_owned();
    assert!(fields[1].starts_with("SHA256:"));
    assert_eq!(&fields[2..], ["ssh-ed25519", "alice@laptop"]);
    assert_eq!(ok(user.run(&["ssh-key", "list"])).stdout, added.stdout);
    let twice = user.run(&["ssh-key", "add", &public]);
    assert_eq!(twice.code, 1, "{twice:?}");
    assert!(twice.stderr.contains("registered already"), "{twice:?}");
    let private = user.run(&["ssh-key", "add", key.to_str().expect("utf-8")]);
    assert_eq!(private.code, 1, "{private:?}");
    assert!(private.stderr.contains("public_key"), "{private:?}");

    // `ssh-config` prints a Host block and pins the host key next to the login.
    let config = ok(user.run(&["ssh-config", "x7k", "--space", "team.alice"]));
    let known_hosts = user.home.path().join("known_hosts");
    let pinned = std::fs::read_to_string(&known_hosts).expect("known_hosts");
    let port = pinned
        .split_once("]:")
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .expect("[127.0.0.1]:PORT");
    assert!(pinned.starts_with("[127.0.0.1]:") && pinned.contains(" ssh-ed25519 "));
    assert_eq!(
        config.stdout,
        format!(
            "Host cordium-x7k\n  HostName 127.0.0.1\n  Port {port}\n  User x7k+team.alice\n  UserKnownHostsFile {}\n  StrictHostKeyChecking yes\n",
            known_hosts.display()
        )
    );

    // `cordium ssh` reaches the server (host key checked, key accepted): this server runs no
    // workspaces, which the session says in one line, exiting with 1.
    let name = ok(user.run(&["create", "workspace", "-f", WORKSPACE, "-o", "name"]))
        .stdout
        .trim()
        .to_owned();
    let key_arg = key.to_str().expect("utf-8");
    let ran = user.run(&["ssh", &name, "-i", key_arg, "--", "true"]);
    assert_eq!(ran.code, 1, "{ran:?}");
    assert!(
        ran.stderr
            .contains("cordium: this server runs no workspaces"),
        "{ran:?}"
    );
    let other = user.run(&["ssh", "nosuch", "-i", key_arg, "--", "true"]);
    assert_eq!(other.code, 255, "{other:?}");
    assert!(
        other.stderr.contains("Permission denied (publickey)"),
        "{other:?}"
    );

    ok(user.run(&["ssh-key", "remove", &id]));
    assert_eq!(ok(user.run(&["ssh-key", "list"])).stdout, "");
}
