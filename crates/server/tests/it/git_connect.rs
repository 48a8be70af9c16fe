//! Connecting git accounts over gRPC (the code flow driven headlessly) against fake GitHub
//! and GitLab hosts in their published shapes and against `oidc-provider` as the generic
//! provider; then a run's credential socket answering real `git credential fill` (git's own
//! `credential-cache` client) with a token refreshed before it expires, only for the
//! provider's host, and nothing after disconnect; the run's git configuration carrying the
//! profile. No token appears in any API answer.

use crate::{Backend, Data, Server, spec};
use cordium_api as pb;
use cordium_api::outbound::Outbound;
use cordium_server::git_credentials::{self, GitRun};
use cordium_server::git_oauth::GitHosts;
use cordium_server::service::{Api, GitConnect};
use cordium_testkit::oidc::{GitHostFake, Issuer, IssuerSetup, SigningKey, TestCa, browse};
use prost::Message as _;
use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

pub(crate) const SPACE: &str = "team.alice";

struct Lab {
    _data: Data,
    server: Server,
    api: Api,
    alice: crate::Client,
}

async fn lab(ca: &TestCa, hosts: GitHosts) -> Lab {
    let data = Data::new(Backend::Sqlite).await;
    let slot = Arc::new(Mutex::new(None));
    let keep = Arc::clone(&slot);
    let outbound = Outbound::new(Some(&ca.ca_file())).expect("outbound");
    let server = Server::start_configured(data.dir.path(), None, None, move |api| {
        let api = api.with_git(GitConnect::new(outbound, hosts));
        *keep.lock().expect("slot") = Some(api.clone());
        api
    })
    .await;
    let api = slot.lock().expect("slot").take().expect("the api");
    let token = server.user("alice", false).await;
    let mut alice = server.client(&token);
    alice
        .create_space(crate::space(SPACE, None))
        .await
        .expect("space");
    Lab {
        _data: data,
        server,
        api,
        alice,
    }
}

pub(crate) async fn provider(
    alice: &mut crate::Client,
    name: &str,
    body: serde_json::Value,
    secret: &str,
) {
    alice
        .create_secret(crate::secret(SPACE, &format!("{name}-secret"), secret))
        .await
        .expect("client secret");
    alice
        .create_git_provider(pb::GitProvider {
            metadata: crate::meta(name),
            spec: Some(spec(body)),
            status: Some(pb::SecretStatus {
                space: SPACE.into(),
                owner: String::new(),
            }),
        })
        .await
        .expect("git provider");
}

/// Begin, play the browser with `login`, finish: the connection.
pub(crate) async fn connect(
    alice: &mut crate::Client,
    ca: &TestCa,
    name: &str,
    login: &str,
) -> pb::GitConnection {
    let begun = alice
        .begin_git_connect(pb::BeginGitConnectRequest {
            space: SPACE.into(),
            provider: name.into(),
            redirect_uri: "http://127.0.0.1:9/callback".into(),
        })
        .await
        .expect("begin")
        .into_inner();
    let landed = browse(ca, "locate", &begun.authorization_url, login);
    let url = cordium_api::outbound::Url::parse(&landed).expect("redirect");
    let param = |k: &str| {
        url.query_pairs()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    assert_eq!(param("state"), begun.state);
    alice
        .finish_git_connect(pb::FinishGitConnectRequest {
            state: begun.state,
            code: param("code"),
            flow: begun.flow,
        })
        .await
        .expect("finish")
        .into_inner()
}

/// `git credential fill` for `host` through the run's socket (git's credential-cache client);
/// the credential lines it printed.
fn fill(dir: &Path, host: &str) -> String {
    let socket = dir.join(git_credentials::SOCKET_FILE);
    let mut child = Command::new("git")
        .args(["-c", "credential.helper="])
        .arg("-c")
        .arg(format!(
            "credential.helper=cache --socket {}",
            socket.display()
        ))
        .args(["credential", "fill"])
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("git (apt-get install git)");
    let mut stdin = child.stdin.take().expect("stdin");
    write!(stdin, "protocol=https\nhost={host}\n\n").expect("write");
    drop(stdin);
    let out = child.wait_with_output().expect("git");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn start_socket(lab: &Lab, dir: &Path, name: &str, email: &str, provider: &str) {
    let listener =
        git_credentials::bind(dir, &dir.display().to_string(), name, email).expect("bind");
    tokio::spawn(git_credentials::accept(
        listener,
        lab.api.clone(),
        GitRun {
            owner: "alice".into(),
            space: SPACE.into(),
            provider: provider.into(),
        },
    ));
}

fn host_of(url: &str) -> String {
    url.trim_start_matches("https://").to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_github_account_is_connected_and_its_refreshed_token_reaches_git_only_for_its_host() {
    let ca = TestCa::new();
    // Access tokens expire in 60 s, inside the server's refresh margin: every credential
    // request refreshes first.
    let github = GitHostFake::start(&ca, "github", "gh-app", "gh-secret-value", 60);
    let hosts = GitHosts {
        github: github.url.clone(),
        ..GitHosts::default()
    };
    let mut lab = lab(&ca, hosts).await;
    let body = serde_json::json!({"github": {"clientID": "gh-app", "clientSecret": {"fromSecret": "gh-secret"}, "scopes": ["repo", "user:email"]}});
    provider(&mut lab.alice, "gh", body, "gh-secret-value").await;

    let connection = connect(&mut lab.alice, &ca, "gh", "octocat").await;
    assert_eq!(
        (
            connection.login.as_str(),
            connection.name.as_str(),
            connection.email.as_str()
        ),
        ("octocat", "The Octocat", "octocat@example.test"),
        "the primary verified address"
    );
    assert_eq!(connection.scopes, ["repo", "user:email"]);
    assert_eq!(connection.hosts, [host_of(&github.url)]);
    let listed = lab
        .alice
        .list_git_connections(pb::Empty {})
        .await
        .expect("list")
        .into_inner();
    assert_eq!(listed.items, std::slice::from_ref(&connection));

    let dir = tempfile::tempdir().expect("run dir");
    start_socket(&lab, dir.path(), &connection.name, &connection.email, "gh");
    let first = fill(dir.path(), &host_of(&github.url));
    let second = fill(dir.path(), &host_of(&github.url));
    let issued = github.issued();
    assert_eq!(
        issued.len(),
        3,
        "connect, then a refresh per request: {issued:?}"
    );
    assert!(first.contains("username=x-access-token"), "{first}");
    assert!(
        first.contains(&format!("password={}", issued[1])),
        "refreshed: {first}"
    );
    assert!(
        second.contains(&format!("password={}", issued[2])),
        "refreshed again: {second}"
    );
    assert!(
        !fill(dir.path(), "github.com").contains("password="),
        "another host gets nothing"
    );

    // The run's git configuration: the helper and the profile, read by git itself.
    let config = |key: &str| {
        let out = Command::new("git")
            .args(["config", "--system", "--get", key])
            .env(
                "GIT_CONFIG_SYSTEM",
                dir.path().join(git_credentials::CONFIG_FILE),
            )
            .output()
            .expect("git config");
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    assert_eq!(config("user.name"), "The Octocat");
    assert_eq!(config("user.email"), "octocat@example.test");
    assert!(config("credential.helper").starts_with("cache --socket "));

    // No token in any API answer.
    let answers = [connection.encode_to_vec(), listed.encode_to_vec()];
    for token in &issued {
        for answer in &answers {
            assert!(!String::from_utf8_lossy(answer).contains(token.as_str()));
        }
    }

    // Disconnected: git gets nothing, and the connection is gone.
    lab.alice
        .disconnect_git_provider(pb::Ref {
            name: "gh".into(),
            space: SPACE.into(),
        })
        .await
        .expect("disconnect");
    assert!(!fill(dir.path(), &host_of(&github.url)).contains("password="));
    let after = lab
        .alice
        .list_git_connections(pb::Empty {})
        .await
        .expect("list");
    assert!(after.into_inner().items.is_empty());
    drop(lab.server);
}

#[tokio::test(flavor = "multi_thread")]
async fn gitlab_and_generic_oidc_profiles_are_read() {
    let ca = TestCa::new();
    let gitlab = GitHostFake::start(&ca, "gitlab", "gl-app", "gl-secret-value", 7200);
    let key = SigningKey::new("k");
    let mut client = cordium_testkit::oidc::public_client("git-app");
    client["client_secret"] = "generic-secret-value".into();
    client["token_endpoint_auth_method"] = "client_secret_post".into();
    let issuer = Issuer::start(
        &ca,
        &[&key],
        IssuerSetup {
            clients: vec![client],
            groups: serde_json::json!({}),
            token_ttl: 3600,
        },
    );
    let hosts = GitHosts {
        gitlab: gitlab.url.clone(),
        ..GitHosts::default()
    };
    let mut lab = lab(&ca, hosts).await;
    let body = serde_json::json!({"gitlab": {"clientID": "gl-app", "clientSecret": {"fromSecret": "gl-secret"}, "scopes": ["api", "read_user"]}});
    provider(&mut lab.alice, "gl", body, "gl-secret-value").await;
    let gl = connect(&mut lab.alice, &ca, "gl", "jdoe").await;
    assert_eq!(
        (gl.login.as_str(), gl.name.as_str(), gl.email.as_str()),
        ("jdoe", "Jane Doe", "jane@example.test"),
        "GitLab's commit email"
    );
    assert_eq!(gl.scopes, ["api", "read_user"]);

    let body = serde_json::json!({"oauth2": {"clientID": "git-app", "clientSecret": {"fromSecret": "generic-secret"},
        "authURL": format!("{}/auth", issuer.url), "tokenURL": format!("{}/token", issuer.url),
        "scopes": ["openid", "profile", "email", "offline_access"]}});
    provider(&mut lab.alice, "generic", body, "generic-secret-value").await;
    let generic = connect(&mut lab.alice, &ca, "generic", "carol").await;
    assert_eq!(
        (
            generic.login.as_str(),
            generic.name.as_str(),
            generic.email.as_str()
        ),
        ("carol", "User carol", "carol@example.test"),
        "OIDC userinfo"
    );
    let dir = tempfile::tempdir().expect("run dir");
    start_socket(&lab, dir.path(), &generic.name, &generic.email, "generic");
    let filled = fill(dir.path(), &host_of(&issuer.url));
    assert!(
        filled.contains("username=carol") && filled.contains("password="),
        "{filled}"
    );

    // The issuer goes down: a token still valid needs no provider; begin/finish against a
    // dead provider fails within the outbound timeouts, without a secret in the error.
    drop(issuer);
    let begun = lab
        .alice
        .begin_git_connect(pb::BeginGitConnectRequest {
            space: SPACE.into(),
            provider: "generic".into(),
            redirect_uri: "http://127.0.0.1:9/callback".into(),
        })
        .await
        .expect("begin needs no provider")
        .into_inner();
    let error = lab
        .alice
        .finish_git_connect(pb::FinishGitConnectRequest {
            state: begun.state,
            code: "whatever".into(),
            flow: begun.flow,
        })
        .await
        .expect_err("the provider is down");
    assert_eq!(error.code(), tonic::Code::Unavailable, "{error:?}");
    assert!(!error.message().contains("generic-secret-value"));
    assert!(
        fill(dir.path(), &host_of(&gitlab.url)).is_empty(),
        "not this run's provider"
    );
}

/// The server keeps no flow between Begin and Finish: the flow travels sealed with the client
/// that began it. So no number of flows begun by one caller ends anyone's (there was once a
/// table of them, a sign-in counted by address, and one client behind a proxy evicted every
/// other's), and a flow finishes only with its own sealed flow, for its own state, by the user
/// who began it.
#[tokio::test(flavor = "multi_thread")]
async fn flows_travel_sealed_with_their_client() {
    let ca = TestCa::new();
    let github = GitHostFake::start(&ca, "github", "gh-app", "gh-secret-value", 3600);
    let hosts = GitHosts {
        github: github.url.clone(),
        ..GitHosts::default()
    };
    let mut lab = lab(&ca, hosts).await;
    let body = serde_json::json!({"github": {"clientID": "gh-app", "clientSecret": {"fromSecret": "gh-secret"}}});
    provider(&mut lab.alice, "gh", body, "gh-secret-value").await;
    let begin = pb::BeginGitConnectRequest {
        space: SPACE.into(),
        provider: "gh".into(),
        redirect_uri: "http://127.0.0.1:9/callback".into(),
    };
    let first = lab
        .alice
        .begin_git_connect(begin.clone())
        .await
        .expect("begin")
        .into_inner();
    // More than the 8 a caller once kept.
    for i in 0..20 {
        let begun = lab.alice.begin_git_connect(begin.clone()).await;
        begun.unwrap_or_else(|e| panic!("begin {i}: {e:?}"));
    }
    let finish = |state: &str, flow: &str| pb::FinishGitConnectRequest {
        state: state.to_owned(),
        code: "whatever".into(),
        flow: flow.to_owned(),
    };
    let refused = |result: Result<tonic::Response<pb::GitConnection>, tonic::Status>| {
        let e = result.expect_err("refused");
        assert_eq!(e.code(), tonic::Code::InvalidArgument, "{e:?}");
        e.message().to_owned()
    };
    // Without its flow, with another flow's state, or tampered with: no flow.
    let message = refused(lab.alice.finish_git_connect(finish(&first.state, "")).await);
    assert!(message.starts_with("flow: required"), "{message}");
    let second = lab
        .alice
        .begin_git_connect(begin.clone())
        .await
        .expect("begin")
        .into_inner();
    refused(
        lab.alice
            .finish_git_connect(finish(&second.state, &first.flow))
            .await,
    );
    // A byte of the sealed flow changed (not its encoding): the seal does not open.
    let mut tampered = base64::Engine::decode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        &first.flow,
    )
    .expect("base64url");
    tampered[20] ^= 1;
    let tampered =
        base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, tampered);
    refused(
        lab.alice
            .finish_git_connect(finish(&first.state, &tampered))
            .await,
    );
    // Another user holding alice's state and flow cannot finish it.
    let token = lab.server.user("bob", false).await;
    let mut bob = lab.server.client(&token);
    refused(
        bob.finish_git_connect(finish(&first.state, &first.flow))
            .await,
    );
    // Alice's first flow, begun before 20 others, still goes to the provider (which refuses
    // the made-up code).
    let landed = lab
        .alice
        .finish_git_connect(finish(&first.state, &first.flow))
        .await
        .expect_err("a made-up code");
    assert_ne!(landed.code(), tonic::Code::InvalidArgument, "{landed:?}");
}
