//! The web console in a real browser: Debian's headless Chromium driven by Playwright for
//! Python (`console/browser.py`), against a server running workspaces on real podman in the
//! lab's image. The Python script drives the pages and asserts what a user sees; this test
//! sets up the users, Space, Template and another user's workspace over gRPC, runs it, and
//! cleans up. Screenshots land in `$CARGO_TARGET_TMPDIR/console-screenshots`.

use super::*;
use cordium_provisioner::podman::Podman;
use cordium_provisioner::runtime::Runtime;
use cordium_testkit::lab;
use std::process::Command;

/// A server driving podman, with the gRPC API and the console on loopback ports.
struct ConsoleEnv {
    _data: Data,
    server: Server,
    console: SocketAddr,
    /// Where the applications are served (another port: another origin).
    apps: SocketAddr,
}

impl ConsoleEnv {
    async fn new() -> Self {
        let data = Data::new(Backend::Sqlite).await;
        let runtime: Arc<dyn Runtime> =
            Arc::new(Podman::new(lab().podman_options()).expect("podman"));
        let api = cordium_server::server::open(data.dir.path(), None)
            .await
            .expect("open");
        let api = cordium_server::server::start_driver_with(api, runtime, Duration::from_secs(1));
        let (console, apps) = spawn_console(&api).await;
        let server = Server::serve_api(api).await;
        Self {
            _data: data,
            server,
            console,
            apps,
        }
    }
}

/// The console of `api` and its applications on two loopback ports, with the default limits
/// and options.
async fn spawn_console(api: &cordium_server::service::Api) -> (SocketAddr, SocketAddr) {
    cordium_server::console::spawn_with_applications(
        api.clone(),
        "127.0.0.1:0".parse().expect("addr"),
        "127.0.0.1:0".parse().expect("addr"),
        cordium_server::connections::ConnectionLimits::default(),
        cordium_server::console::ConsoleOptions::default(),
        std::future::pending(),
    )
    .await
    .expect("the console")
}

/// The venv's python (`scripts/install-test-tools.sh` installs Playwright into it).
fn python() -> PathBuf {
    let path = workspace_root().join(".tools/venv/bin/python");
    assert!(
        path.exists(),
        "{} is missing: run `scripts/install-test-tools.sh` (Playwright for Python, from \
         tests/tools/requirements.txt) and `scripts/install-system-packages.sh` (chromium)",
        path.display()
    );
    path
}

/// Stops and deletes every workspace `client` can see.
async fn clean_up(client: &Client) {
    let list = ok(
        "ListWorkspace",
        client
            .clone()
            .list_workspace(pb::ListRequest::default())
            .await,
    );
    for ws in list.items {
        let name = name_of(&ws.metadata);
        let state = ws.status.as_ref().map(|s| s.state()).unwrap_or_default();
        if state != pb::WorkspaceState::Stopped {
            let _ = client
                .clone()
                .stop_workspace(pb::StopWorkspaceRequest { name: name.clone() })
                .await;
        }
        // Read until stopped (a delete of a running workspace is refused).
        let deadline = Instant::now() + Duration::from_secs(120);
        while Instant::now() < deadline {
            let now = client.clone().get_workspace(r("", &name)).await;
            let stopped = now
                .ok()
                .and_then(|w| w.into_inner().status)
                .map(|s| s.state());
            if stopped == Some(pb::WorkspaceState::Stopped) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let _ = client.clone().delete_workspace(r("", &name)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_console_in_a_real_browser() {
    let python = python();
    let env = ConsoleEnv::new().await;
    let alice_token = env.server.user("alice", false).await;
    let bob_token = env.server.user("bob", false).await;
    let admin_token = env.server.user("root", true).await;
    let alice = env.server.client(&alice_token);
    let bob = env.server.client(&bob_token);

    // Alice's Space caps the CPU at 1000 millicores; her Template runs busybox httpd on the
    // workspace's loopback from a POST_START task, with a page that loads a script by an
    // absolute path (`/abs.js`), as dev servers' pages do.
    let space_name = "web.alice";
    ok(
        "CreateSpace",
        alice
            .clone()
            .create_space(space(
                space_name,
                Some(serde_json::json!({"limit": {"maxLimit": {"cpu": {"millicores": 1000}}}})),
            ))
            .await,
    );
    ok(
        "CreateTemplate",
        alice
            .clone()
            .create_template(template(
                space_name,
                "lab",
                Some(serde_json::json!({
                    "image": {"registry": {"url": lab().image}},
                    "runtime": {"tasks": [{"name": "web", "type": "POST_START", "run":
                        "echo web-task-started; mkdir -p /tmp/www && echo hello-from-httpd > /tmp/www/index.html \
                         && echo '<script src=/abs.js></script>' > /tmp/www/abs.html \
                         && echo 'document.title = \"abs-ok\"' > /tmp/www/abs.js \
                         && (busybox httpd -p 127.0.0.1:8080 -h /tmp/www &)"}]},
                })),
            ))
            .await,
    );
    // The administrator is a member of alice's Space: it sees her workspaces, but is not let
    // into their applications, which share the console's origin.
    add_space_member(&env.server.store, space_name, "root").await;
    // Bob's workspace, for "another user's workspace reads like a missing one".
    let bobs = ok(
        "CreateWorkspace (bob)",
        bob.clone()
            .create_workspace(workspace("", "", Some(serde_json::json!({}))))
            .await,
    );

    // Alice's workspace whose start fails in a task, for the failure explained on its page.
    let failing = ok(
        "CreateWorkspace (failing)",
        alice
            .clone()
            .create_workspace(workspace(
                space_name,
                "lab",
                Some(serde_json::json!({"runtime": {"tasks": [{"name": "broken", "type": "POST_START",
                    "run": "exit 3", "onFailure": "ON_FAILURE_ABORT"}]}})),
            ))
            .await,
    );

    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("console-screenshots");
    std::fs::create_dir_all(&shots).expect("screenshot dir");
    let script = workspace_root().join("crates/server/tests/it/console/browser.py");
    let output = tokio::task::spawn_blocking({
        let (console, apps) = (env.console, env.apps);
        let (alice_token, bob_token) = (alice_token.clone(), bob_token.clone());
        let admin_token = admin_token.clone();
        let bobs = name_of(&bobs.metadata);
        let failing = name_of(&failing.metadata);
        let shots = shots.clone();
        move || {
            Command::new(&python)
                .arg(&script)
                .env(
                    "CONSOLE_URL",
                    format!("http://127.0.0.1:{}", console.port()),
                )
                .env("CONSOLE_PORT", console.port().to_string())
                .env("APPS_URL", format!("http://127.0.0.1:{}", apps.port()))
                .env("ALICE_TOKEN", alice_token)
                .env("BOB_TOKEN", bob_token)
                .env("ADMIN_TOKEN", admin_token)
                .env("BOB_WORKSPACE", bobs)
                .env("FAILING_WORKSPACE", failing)
                .env("SPACE", space_name)
                .env("SCREENSHOTS", &shots)
                .output()
                .expect("run the browser script")
        }
    })
    .await
    .expect("join");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    clean_up(&alice).await;
    clean_up(&bob).await;
    assert!(
        output.status.success(),
        "the browser checks failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        output.status
    );
    for page in [
        "login",
        "workspaces",
        "workspace",
        "terminal",
        "provenance",
        "secrets",
    ] {
        assert!(
            shots.join(format!("{page}.png")).exists(),
            "screenshot {page}.png saved\n{stdout}"
        );
    }
    eprintln!("{stdout}");
}

/// One HTTP/1.1 request to the console (`Connection: close`): the status and the whole answer.
async fn http(console: SocketAddr, request: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut stream = tokio::net::TcpStream::connect(console)
        .await
        .expect("the console answers");
    stream.write_all(request.as_bytes()).await.expect("request");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.expect("answer");
    let status = answer
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, answer)
}

/// A server (no runtime) with its console, and a user signed in to the console.
struct SignedIn {
    _data: Data,
    server: Server,
    console: SocketAddr,
    /// Where the applications are served.
    apps: SocketAddr,
    /// The console's `Host`.
    host: String,
    /// The session cookie, `NAME=VALUE`.
    cookie: String,
    /// The session's token, which every `/api` request carries.
    csrf: String,
}

impl SignedIn {
    async fn new(user: &str) -> Self {
        let data = Data::new(Backend::Sqlite).await;
        let api = cordium_server::server::open(data.dir.path(), None)
            .await
            .expect("open");
        let (console, apps) = spawn_console(&api).await;
        let server = Server::serve_api(api).await;
        let token = server.user(user, false).await;
        let (cookie, csrf) = login(console, &token).await;
        Self {
            _data: data,
            server,
            console,
            apps,
            host: format!("127.0.0.1:{}", console.port()),
            cookie,
            csrf,
        }
    }
}

/// A console session lives only as long as its credential: once the user is disabled, the
/// next request is refused and the session is gone (enabling the user again does not bring
/// it back).
#[tokio::test]
async fn a_console_session_ends_with_its_credential() {
    let SignedIn {
        server,
        console,
        host,
        cookie,
        csrf,
        ..
    } = SignedIn::new("carol").await;
    let me = format!(
        "GET /api/me HTTP/1.1\r\nHost: {host}\r\nCookie: {cookie}\r\nX-CSRF-Token: {csrf}\r\nConnection: close\r\n\r\n"
    );
    assert_eq!(http(console, &me).await.0, 200, "signed in");
    // The cookie alone is no session: a planted one comes without the page's token.
    let cookie_only = format!(
        "GET /api/me HTTP/1.1\r\nHost: {host}\r\nCookie: {cookie}\r\nConnection: close\r\n\r\n"
    );
    assert_eq!(http(console, &cookie_only).await.0, 401, "no token");

    server
        .store
        .set_disabled("carol", true)
        .await
        .expect("disable");
    assert_eq!(
        http(console, &me).await.0,
        401,
        "a disabled user's session ends"
    );
    server
        .store
        .set_disabled("carol", false)
        .await
        .expect("enable");
    assert_eq!(
        http(console, &me).await.0,
        401,
        "the ended session does not come back"
    );
}

/// Signs in to the console with `token`; returns the session cookie (`NAME=VALUE`).
async fn sign_in(console: SocketAddr, token: &str) -> String {
    login(console, token).await.0
}

/// Signs in to the console with `token`; returns the session cookie (`NAME=VALUE`) and the
/// session's token.
async fn login(console: SocketAddr, token: &str) -> (String, String) {
    let host = format!("127.0.0.1:{}", console.port());
    let body = serde_json::json!({ "token": token }).to_string();
    let (status, answer) = http(
        console,
        &format!(
            "POST /api/login HTTP/1.1\r\nHost: {host}\r\nOrigin: http://{host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    let cookie = answer
        .lines()
        .find_map(|l| {
            l.strip_prefix("set-cookie: ")
                .or(l.strip_prefix("Set-Cookie: "))
        })
        .and_then(|c| c.split(';').next())
        .expect("a session cookie")
        .to_owned();
    let body = answer.split("\r\n\r\n").nth(1).unwrap_or_default();
    let csrf = serde_json::from_str::<serde_json::Value>(body.trim())
        .ok()
        .and_then(|v| v["csrf"].as_str().map(str::to_owned))
        .unwrap_or_else(|| panic!("a token in {body}"));
    (cookie, csrf)
}

/// A response an application streams through the console is cut once the credential of the
/// session it was opened with is rotated: the browser's connection closes and the response
/// never reads as complete. (The application's response lasts "until the connection closes",
/// so before, the server's end of the forwarded connection read as the response's end: the
/// browser got a complete response on a connection kept open.)
#[tokio::test(flavor = "multi_thread")]
async fn a_streamed_application_response_is_cut_when_its_credential_ends() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let env = super::podman::PodmanEnv::new("streamer").await;
    let (console, apps) = spawn_console(&env.server.api).await;
    // An application answering every connection with a response without a length, a line
    // every 200 ms, until the connection closes.
    let name = env
        .create(serde_json::json!({
            "applications": [{"name": "ticks", "port": 8080}],
            "runtime": {"tasks": [{"name": "ticks", "type": "POST_START", "run":
                "(while true; do (printf 'HTTP/1.1 200 OK\\r\\nContent-Type: text/plain\\r\\n\\r\\n'; \
                  while echo tick; do sleep 0.2; done) | nc -l -p 8080; done) >/dev/null 2>&1 &"}]},
        }))
        .await;
    env.start(&name).await;
    let cookie = sign_in(console, &env.token).await;
    let request = format!(
        "GET /w/{name}/ticks/ HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nCookie: {cookie}\r\n\r\n",
        apps.port()
    );

    // The application may take a moment to listen: ask until a tick comes.
    let deadline = Instant::now() + Duration::from_secs(30);
    let (mut stream, mut seen) = loop {
        let mut stream = tokio::net::TcpStream::connect(apps)
            .await
            .expect("the applications' port answers");
        stream.write_all(request.as_bytes()).await.expect("request");
        let mut seen = Vec::new();
        let mut buf = [0_u8; 4096];
        let ticking = tokio::time::timeout(Duration::from_secs(3), async {
            while !String::from_utf8_lossy(&seen).contains("tick") {
                match stream.read(&mut buf).await {
                    Ok(0) | Err(_) => return false,
                    Ok(n) => seen.extend_from_slice(&buf[..n]),
                }
            }
            true
        })
        .await;
        if ticking == Ok(true) {
            break (stream, seen);
        }
        assert!(
            Instant::now() < deadline,
            "the application streams: {}",
            String::from_utf8_lossy(&seen)
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert!(
        String::from_utf8_lossy(&seen).starts_with("HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&seen)
    );

    super::podman::revoke_token(&env, "streamer").await;
    let closed = tokio::time::timeout(Duration::from_secs(30), async {
        let mut buf = [0_u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => seen.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    let text = String::from_utf8_lossy(&seen).into_owned();
    assert!(
        closed.is_ok(),
        "the connection closes within a few re-checks; it read: {}",
        &text[text.len().saturating_sub(200)..]
    );
    assert!(
        text.contains("transfer-encoding: chunked") && !text.ends_with("0\r\n\r\n"),
        "the response is cut, not complete: {}",
        &text[text.len().saturating_sub(200)..]
    );
    super::podman::restore_token(&env, "streamer").await;
    env.stop(&name).await;
}

/// A WebSocket to an application must come from the applications' own origin: another site's
/// page (the console's included) would otherwise open it with the viewer's session. And
/// applications are not served on the console's origin at all, where their scripts would act
/// as the viewer (probe round 8).
#[tokio::test]
async fn an_application_websocket_from_another_origin_is_refused() {
    let SignedIn {
        console,
        apps,
        cookie,
        ..
    } = SignedIn::new("dave").await;
    let host = format!("127.0.0.1:{}", apps.port());
    let upgrade = |origin: &str| {
        format!(
            "GET /w/nosuch/web/ HTTP/1.1\r\nHost: {host}\r\nCookie: {cookie}\r\nOrigin: {origin}\r\n\
             Connection: Upgrade, close\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
        )
    };
    let (status, answer) = http(apps, &upgrade("http://127.0.0.1:1")).await;
    assert_eq!(status, 403, "{answer}");
    // A POST from another origin (the console's, say: same site, so the cookie goes with it)
    // may not change an application's state either; from the applications' own it may.
    let post = |origin: &str| {
        format!(
            "POST /w/nosuch/web/form HTTP/1.1\r\nHost: {host}\r\nCookie: {cookie}\r\nOrigin: {origin}\r\n\
             Content-Length: 0\r\nConnection: close\r\n\r\n"
        )
    };
    let (status, answer) = http(apps, &post(&format!("http://127.0.0.1:{}", console.port()))).await;
    assert_eq!(status, 403, "{answer}");
    let (status, answer) = http(apps, &post(&format!("http://{host}"))).await;
    assert_eq!(status, 404, "{answer}");
    let (status, answer) = http(
        apps,
        &upgrade(&format!("http://127.0.0.1:{}", console.port())),
    )
    .await;
    assert_eq!(status, 403, "the console's origin is another: {answer}");
    // From the applications' origin it gets past the check (to a workspace that does not
    // exist).
    let (status, answer) = http(apps, &upgrade(&format!("http://{host}"))).await;
    assert_eq!(status, 404, "{answer}");
    // The console's origin serves no application, and says where they are.
    let (status, answer) = http(
        console,
        &format!(
            "GET /w/nosuch/web/ HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nCookie: {cookie}\r\nConnection: close\r\n\r\n",
            console.port()
        ),
    )
    .await;
    assert!(
        status == 404 && answer.contains("--http-apps-listen"),
        "{status} {answer}"
    );
}
