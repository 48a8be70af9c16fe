//! `cordium login --oidc` and `--workload-token-file` end to end: the real `cordium` binary,
//! the real server (in this process, with `--oidc-config` as `serve` reads it) and a real
//! OpenID Connect issuer (npm `oidc-provider` over HTTPS with a test CA), whose login and
//! consent pages the test plays headlessly as the browser.

mod support;

use cordium_server::auth::{IssuerConfig, OidcConfig};
use cordium_server::oidc::WorkloadRule;
use cordium_testkit::oidc::{Issuer, IssuerSetup, SigningKey, TestCa, public_client};
use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use support::Run;

/// The server, on a runtime of its own, with `deployer` as an API-token user.
struct Server {
    url: String,
    deployer: String,
    _runtime: tokio::runtime::Runtime,
    _data: tempfile::TempDir,
}

fn start_server(config: OidcConfig) -> Server {
    start_server_with(config, None)
}

/// As [`start_server`], connecting git accounts through `git` (GitHub's web URL, the CA).
fn start_server_with(config: OidcConfig, git: Option<(String, PathBuf, bool)>) -> Server {
    let data = tempfile::tempdir().expect("data dir");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let dir = data.path().to_path_buf();
    let url = runtime.block_on(async move {
        let mut api = cordium_server::server::open_with(&dir, None, Some(config))
            .await
            .expect("server opens");
        if let Some((github, ca, new_users)) = git {
            let outbound = cordium_api::outbound::Outbound::new(Some(&ca)).expect("outbound");
            let hosts = cordium_server::git_oauth::GitHosts {
                github,
                ..Default::default()
            };
            let sign_in = cordium_server::service::GitHubSignIn {
                client_id: "gh-app".into(),
                client_secret: "gh-secret-value".into(),
                token_ttl_secs: 3600,
                new_users,
            };
            api = api.with_git(
                cordium_server::service::GitConnect::new(outbound, hosts)
                    .with_github_sign_in(sign_in),
            );
        }
        let token = cordium_server::crypto::new_token().expect("token");
        let hash = cordium_server::crypto::hash_token(&token);
        api.store()
            .add_user("deployer", &hash, false)
            .await
            .expect("deployer");
        let listener = cordium_server::server::bind("127.0.0.1:0".parse().expect("addr"))
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        tokio::spawn(cordium_server::server::serve(
            api,
            listener,
            std::future::pending(),
        ));
        (url, token)
    });
    let (url, deployer) = url;
    Server {
        url,
        deployer,
        _runtime: runtime,
        _data: data,
    }
}

/// A GitHub fake (the app `gh-app`) and a server connecting accounts and signing in there.
fn github_lab() -> (TestCa, cordium_testkit::oidc::GitHostFake, Server) {
    github_lab_with(true)
}

/// As [`github_lab`]; `new_users`: whether an unknown GitHub account becomes a user.
fn github_lab_with(new_users: bool) -> (TestCa, cordium_testkit::oidc::GitHostFake, Server) {
    let ca = TestCa::new();
    let github =
        cordium_testkit::oidc::GitHostFake::start(&ca, "github", "gh-app", "gh-secret-value", 3600);
    let server = start_server_with(
        OidcConfig::default(),
        Some((github.url.clone(), ca.ca_file(), new_users)),
    );
    (ca, github, server)
}

fn cordium(home: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cordium"));
    cmd.env("CORDIUM_CONFIG", home.join("config.json"))
        .env("HOME", home)
        .env("NO_COLOR", "1")
        .env_remove("CORDIUM_SERVER")
        .env_remove("CORDIUM_TOKEN")
        .env_remove("CORDIUM_CA_FILE")
        .stdin(Stdio::null());
    cmd
}

fn run(home: &Path, args: &[&str]) -> Run {
    support::run_with(cordium(home), args, None)
}

/// Runs `cordium ARGS` until it prints a `https://` line on standard error; that line
/// and the still running command.
#[allow(
    clippy::zombie_processes,
    reason = "the caller waits for the returned child"
)]
fn until_url(home: &Path, args: &[&str]) -> (String, std::process::Child) {
    let mut child = cordium(home)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cordium starts");
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = BufReader::new(stderr).lines();
    loop {
        let line = lines
            .next()
            .expect("cordium prints the URL")
            .expect("stderr");
        if line.starts_with("https://") {
            return (line, child);
        }
    }
}

/// A real issuer with one public client whose tokens live `ttl` seconds, and a server
/// trusting it as `config` says (its CA added).
fn oidc_lab(
    client: &str,
    ttl: u64,
    config: impl FnOnce(&Issuer) -> OidcConfig,
) -> (TestCa, Issuer, Server) {
    let ca = TestCa::new();
    let setup = IssuerSetup {
        clients: vec![public_client(client)],
        groups: serde_json::json!({}),
        token_ttl: ttl,
    };
    let issuer = Issuer::start(&ca, &[&SigningKey::new("k1")], setup);
    let server = start_server(OidcConfig {
        ca_file: Some(ca.ca_file()),
        ..config(&issuer)
    });
    (ca, issuer, server)
}

fn saved(home: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(home.join("config.json")).expect("config");
    serde_json::from_str(&text).expect("config json")
}

#[test]
fn login_with_oidc_signs_in_through_the_browser_and_refreshes() {
    // ID tokens live 30 s: inside the CLI's 60 s refresh margin at once, so every command
    // after the login refreshes first.
    let (ca, issuer, server) = oidc_lab("cordium", 30, |issuer| OidcConfig {
        issuers: vec![IssuerConfig {
            issuer: issuer.url.clone(),
            audience: "cordium".into(),
            user_claim: None,
            admin_claim: None,
            jwks_file: None,
        }],
        ..OidcConfig::default()
    });
    let home = tempfile::tempdir().expect("home");
    let ca_file: PathBuf = ca.ca_file();
    let ca_arg = ca_file.to_str().expect("utf-8 path");
    let (url, child) = until_url(
        home.path(),
        &[
            "login",
            "--server",
            &server.url,
            "--oidc",
            &issuer.url,
            "--ca-file",
            ca_arg,
        ],
    );
    assert!(url.contains("code_challenge_method=S256"), "{url}");
    // The browser: sign in as alice, consent, land on the CLI's loopback callback.
    let landed = issuer.visit(&url, "alice");
    assert!(landed.starts_with("200 Signed in to Cordium"), "{landed}");
    let done = support::finish(child);
    assert_eq!(done.code, 0, "{done:?}");
    assert!(done.stdout.contains("as alice"), "{done:?}");

    // Saved for the owner only, with the refresh token.
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(home.path().join("config.json"))
        .expect("config")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let first = saved(home.path());
    assert_eq!(first["oidc"]["issuer"], issuer.url.as_str());
    assert!(first["oidc"]["refresh_token"].is_string(), "{first}");

    // The next command refreshes the ID token (refresh token grant) and is let in with it.
    let listed = run(home.path(), &["list", "space"]);
    assert_eq!(listed.code, 0, "{listed:?}");
    let second = saved(home.path());
    assert_ne!(first["token"], second["token"], "a new ID token");
    assert_eq!(
        run(home.path(), &["list", "space"]).code,
        0,
        "the refreshed token and refresh token work again"
    );
}

#[test]
fn login_with_a_workload_token_maps_it_to_its_user() {
    let (_ca, platform, server) = oidc_lab("cordium-ci", 600, |platform| OidcConfig {
        workloads: vec![WorkloadRule {
            issuer: platform.url.clone(),
            audience: "cordium-ci".into(),
            subject: "job-*".into(),
            user: "deployer".into(),
            ttl_secs: None,
            jwks_file: None,
        }],
        ..OidcConfig::default()
    });
    let home = tempfile::tempdir().expect("home");
    let file = home.path().join("platform-token");
    std::fs::write(&file, platform.id_token("cordium-ci", "job-7")).expect("token file");
    let file_arg = file.to_str().expect("utf-8 path");
    let login = run(
        home.path(),
        &[
            "login",
            "--server",
            &server.url,
            "--workload-token-file",
            file_arg,
        ],
    );
    assert_eq!(login.code, 0, "{login:?}");
    assert!(login.stdout.contains("as deployer"), "{login:?}");
    let token = saved(home.path())["token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        token.starts_with("cdw_"),
        "a short-lived API token is saved"
    );
    let listed = run(home.path(), &["list", "space"]);
    assert_eq!(listed.code, 0, "{listed:?}");

    // A subject outside the rules is refused, and no token is printed or saved.
    let other = tempfile::tempdir().expect("home");
    let outside = other.path().join("platform-token");
    let intruder = platform.id_token("cordium-ci", "intruder");
    std::fs::write(&outside, &intruder).expect("token file");
    let refused = run(
        other.path(),
        &[
            "login",
            "--server",
            &server.url,
            "--workload-token-file",
            outside.to_str().expect("utf-8"),
        ],
    );
    assert_eq!(refused.code, 1, "{refused:?}");
    assert!(refused.stderr.contains("PermissionDenied"), "{refused:?}");
    assert!(!refused.stderr.contains(&intruder));
    assert!(!other.path().join("config.json").exists());
}

#[test]
fn git_connect_status_and_disconnect_through_the_cli() {
    let (ca, github, server) = github_lab();
    let home = tempfile::tempdir().expect("home");
    let login = run(
        home.path(),
        &[
            "login",
            "--server",
            &server.url,
            "--token",
            &server.deployer,
        ],
    );
    assert_eq!(login.code, 0, "{login:?}");
    let write = |name: &str, text: &str| {
        let path = home.path().join(name);
        std::fs::write(&path, text).expect("document");
        path.to_str().expect("utf-8").to_owned()
    };
    let space = write(
        "space.yaml",
        "apiVersion: cordium/v1\nkind: Space\nmetadata:\n  name: team.deployer\nspec: {}\n",
    );
    let secret = write(
        "secret.yaml",
        "apiVersion: cordium/v1\nkind: Secret\nmetadata:\n  name: gh-secret\nspec: {}\n",
    );
    let provider = write(
        "provider.yaml",
        "apiVersion: cordium/v1\nkind: GitProvider\nmetadata:\n  name: gh\nspec:\n  github:\n    clientID: gh-app\n    clientSecret:\n      fromSecret: gh-secret\n    scopes: [repo, \"user:email\"]\n",
    );
    assert_eq!(run(home.path(), &["create", "space", "-f", &space]).code, 0);
    let created = support::run_with(
        cordium(home.path()),
        &[
            "create",
            "secret",
            "-f",
            &secret,
            "--space",
            "team.deployer",
            "--value-stdin",
        ],
        Some("gh-secret-value"),
    );
    assert_eq!(created.code, 0, "{created:?}");
    let created = run(
        home.path(),
        &[
            "create",
            "gitprovider",
            "-f",
            &provider,
            "--space",
            "team.deployer",
        ],
    );
    assert_eq!(created.code, 0, "{created:?}");

    let (url, child) = until_url(home.path(), &["git", "connect", "team.deployer/gh"]);
    let landed = github.visit(&ca, &url);
    assert!(landed.starts_with("200 "), "{landed}");
    let connected = support::finish(child);
    assert_eq!(connected.code, 0, "{connected:?}");
    assert_eq!(
        connected.stdout,
        "connected team.deployer/gh as octocat (The Octocat <octocat@example.test>); scopes: repo user:email\n"
    );
    let status = run(home.path(), &["git", "status"]);
    assert_eq!(status.code, 0, "{status:?}");
    assert!(
        status.stdout.contains(
            "team.deployer/gh\toctocat\tThe Octocat\toctocat@example.test\trepo user:email"
        ),
        "{status:?}"
    );
    for token in github.issued() {
        for text in [
            &connected.stdout,
            &connected.stderr,
            &status.stdout,
            &status.stderr,
        ] {
            assert!(!text.contains(&token), "no token printed");
        }
    }
    let gone = run(home.path(), &["git", "disconnect", "team.deployer/gh"]);
    assert_eq!(
        (gone.code, gone.stdout.as_str()),
        (0, "disconnected team.deployer/gh\n")
    );
    let status = run(home.path(), &["git", "status"]);
    assert_eq!(
        status.stdout.lines().count(),
        1,
        "only the header: {status:?}"
    );
}

#[test]
fn github_sign_in_refuses_unknown_accounts_unless_new_users_are_allowed() {
    let (ca, github, server) = github_lab_with(false);
    let home = tempfile::tempdir().expect("home");
    let mut child = cordium(home.path())
        .args(["login", "--server", &server.url, "--github"])
        .stderr(Stdio::piped())
        .spawn()
        .expect("cordium starts");
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = BufReader::new(stderr).lines().map_while(Result::ok);
    let url = lines
        .by_ref()
        .find(|l| l.starts_with("https://"))
        .expect("cordium prints the URL");
    let landed = github.visit(&ca, &url);
    assert!(
        landed.starts_with("200 "),
        "GitHub's side succeeds: {landed}"
    );
    let rest: Vec<String> = lines.collect();
    let status = child.wait().expect("cordium ends");
    assert!(!status.success(), "{rest:?}");
    assert!(
        rest.iter().any(|l| l.contains("user link")),
        "the refusal says how an operator links the account: {rest:?}"
    );
    assert!(!home.path().join("config.json").exists(), "nothing saved");
}

#[test]
fn login_with_github_checks_the_account_through_its_api() {
    let (ca, github, server) = github_lab();
    for _ in 0..2 {
        let home = tempfile::tempdir().expect("home");
        let (url, child) = until_url(home.path(), &["login", "--server", &server.url, "--github"]);
        let landed = github.visit(&ca, &url);
        assert!(landed.starts_with("200 "), "{landed}");
        let done = support::finish(child);
        assert_eq!(done.code, 0, "{done:?}");
        assert!(
            done.stdout.contains("as octocat;"),
            "the same user every time: {done:?}"
        );
        let token = saved(home.path())["token"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(token.starts_with("cdw_"), "a short-lived API token");
        assert_eq!(run(home.path(), &["list", "space"]).code, 0);
        for issued in github.issued() {
            assert!(!done.stdout.contains(&issued) && !done.stderr.contains(&issued));
        }
    }
}

/// `CORDIUM_CONFIG` may name anything: a FIFO (opening it would wait for a writer), a device
/// (`/dev/zero` would be read until memory ran out) or a huge file is refused at once, naming
/// it, as a usage error.
#[test]
fn a_saved_login_that_is_no_regular_small_file_is_refused_at_once() {
    let home = tempfile::tempdir().expect("home");
    let fifo = home.path().join("fifo");
    let made = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
    assert!(made.success());
    let huge = home.path().join("huge.json");
    std::fs::write(&huge, vec![b' '; (1 << 20) + 1]).expect("a large file");
    for (config, why) in [
        (fifo.as_path(), "not a regular file"),
        (Path::new("/dev/zero"), "not a regular file"),
        (huge.as_path(), "larger than 1024 KiB"),
    ] {
        let r = support::run_with(
            {
                let mut cmd = cordium(home.path());
                cmd.env("CORDIUM_CONFIG", config);
                cmd
            },
            &["list", "workspaces"],
            None,
        );
        assert_eq!(r.code, 2, "{config:?}: {r:?}");
        assert!(
            r.stderr
                .contains(&format!("cannot read {}: {why}", config.display())),
            "{}",
            r.stderr
        );
    }
}
