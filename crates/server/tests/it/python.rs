//! End to end, from outside: the real `cordium-server` binary, driven by a Python gRPC client
//! (`tests/e2e/api_test.py`, stubs generated from `crates/api/proto/cordium/v1/cordium.proto` with grpcio-tools) and by
//! `grpcurl` through server reflection. The tools come from `scripts/install-test-tools.sh`.

use crate::{Process, add_user_with_binary, random_suffix, workspace_root};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A tool under `.tools/venv/bin`, or a failure saying how to install it.
fn tool(name: &str) -> PathBuf {
    let path = workspace_root().join(".tools/venv/bin").join(name);
    assert!(
        path.exists(),
        "{} is missing: run `scripts/install-test-tools.sh` (installs grpcio, grpcio-tools, grpcio-health-checking, \
         grpcio-reflection and grpcurl into .tools/venv from tests/tools/requirements.txt)",
        path.display()
    );
    path
}

fn run(what: &str, cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("{what}: cannot run {cmd:?}: {e}"))
}

#[track_caller]
fn succeeded(what: &str, out: &Output) -> String {
    assert!(
        out.status.success(),
        "{what} failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Generates the Python stubs of `cordium.proto` into `out`.
fn generate_stubs(python: &Path, out: &Path) {
    // `cordium.proto` lives in the `cordium-api` crate (it was in this crate before).
    let root = workspace_root();
    let proto_dir = ["crates/api/proto", "crates/server/proto"]
        .iter()
        .map(|d| root.join(d))
        .find(|d| d.join("cordium/v1/cordium.proto").exists())
        .unwrap_or_else(|| {
            panic!(
                "cordium/v1/cordium.proto not found under {}/crates/{{api,server}}/proto",
                root.display()
            )
        });
    let generated = run(
        "grpc_tools.protoc",
        Command::new(python)
            .args(["-m", "grpc_tools.protoc"])
            .arg(format!("-I{}", proto_dir.display()))
            .arg(format!("--python_out={}", out.display()))
            .arg(format!("--grpc_python_out={}", out.display()))
            .arg("cordium/v1/cordium.proto"),
    );
    succeeded(
        "generating the Python stubs with grpc_tools.protoc",
        &generated,
    );
    assert!(
        out.join("cordium/v1/cordium_pb2_grpc.py").exists(),
        "the stubs were generated"
    );
}

#[test]
fn python_client_and_grpcurl_against_the_binary() {
    let python = tool("python");
    let grpcurl = tool("grpcurl");
    let data = tempfile::tempdir().expect("data dir");
    let token = add_user_with_binary(data.path(), None, "alice", false);
    let server = Process::spawn(data.path(), None);
    let addr = server.addr.to_string();
    let secret = format!("e2e-secret-{}", random_suffix());

    // The Python client.
    let stubs = tempfile::tempdir().expect("stubs dir");
    generate_stubs(&python, stubs.path());
    let script = workspace_root().join("tests/e2e/api_test.py");
    let out = run(
        "api_test.py",
        Command::new(&python)
            .arg(&script)
            .env("CORDIUM_ADDR", &addr)
            .env("CORDIUM_TOKEN", &token)
            .env("CORDIUM_SECRET", &secret)
            .env("CORDIUM_STUBS", stubs.path())
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .env_remove("PYTHONPATH"),
    );
    let stdout = succeeded("tests/e2e/api_test.py", &out);
    assert!(stdout.contains("api_test.py: ok"), "{stdout}");

    // grpcurl, knowing nothing but what reflection tells it.
    let grpcurl_cmd = |args: &[&str]| -> Output {
        let mut cmd = Command::new(&grpcurl);
        cmd.arg("-plaintext").args(args);
        run("grpcurl", &mut cmd)
    };
    let bearer = format!("authorization: Bearer {token}");
    let listed = succeeded("grpcurl list", &grpcurl_cmd(&[&addr, "list"]));
    for service in [
        "cordium.v1.MainService",
        "cordium.v1.ManagementService",
        "grpc.health.v1.Health",
    ] {
        assert!(
            listed.lines().any(|l| l.trim() == service),
            "grpcurl list lacks {service}:\n{listed}"
        );
    }
    let described = succeeded(
        "grpcurl describe",
        &grpcurl_cmd(&[&addr, "describe", "cordium.v1.MainService"]),
    );
    assert!(
        described.contains("rpc CreateSpace ( .cordium.v1.Space ) returns ( .cordium.v1.Space )"),
        "{described}"
    );
    assert!(described.contains("rpc WatchWorkspace ( .cordium.v1.WatchWorkspaceRequest ) returns ( stream .cordium.v1.WorkspaceEvent )"), "{described}");
    let message = succeeded(
        "grpcurl describe a message",
        &grpcurl_cmd(&[&addr, "describe", "cordium.v1.Secret"]),
    );
    assert!(message.contains("SecretData data = 2"), "{message}");

    let created = succeeded(
        "grpcurl CreateSpace",
        &grpcurl_cmd(&[
            "-H",
            &bearer,
            "-d",
            r#"{"metadata": {"name": "curl.alice", "displayName": "From grpcurl"}, "spec": {"runtime": {"envVars": [{"key": "A", "value": "1"}]}}}"#,
            &addr,
            "cordium.v1.MainService/CreateSpace",
        ]),
    );
    let created: serde_json::Value = serde_json::from_str(&created).expect("grpcurl prints JSON");
    assert_eq!(created["metadata"]["name"], "curl.alice");
    assert_eq!(
        created["metadata"]["resourceVersion"], "1",
        "int64 is a JSON string"
    );
    assert_eq!(created["status"]["owner"], "alice");
    assert_eq!(created["spec"]["runtime"]["envVars"][0]["key"], "A");
    let got = succeeded(
        "grpcurl GetSpace",
        &grpcurl_cmd(&[
            "-H",
            &bearer,
            "-d",
            r#"{"name": "curl.alice"}"#,
            &addr,
            "cordium.v1.MainService/GetSpace",
        ]),
    );
    let got: serde_json::Value = serde_json::from_str(&got).expect("JSON");
    assert_eq!(got["metadata"]["displayName"], "From grpcurl");
    assert_eq!(got["metadata"]["uid"], created["metadata"]["uid"]);

    // Failures: grpcurl exits with 64 + the gRPC status code.
    let missing = grpcurl_cmd(&[
        "-H",
        &bearer,
        "-d",
        r#"{"name": "nope.alice"}"#,
        &addr,
        "cordium.v1.MainService/GetSpace",
    ]);
    assert_eq!(
        missing.status.code(),
        Some(64 + 5),
        "NotFound: {}",
        String::from_utf8_lossy(&missing.stderr)
    );
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains("NotFound"),
        "{}",
        String::from_utf8_lossy(&missing.stderr)
    );
    let anonymous = grpcurl_cmd(&[
        "-d",
        r#"{"name": "curl.alice"}"#,
        &addr,
        "cordium.v1.MainService/GetSpace",
    ]);
    assert_eq!(
        anonymous.status.code(),
        Some(64 + 16),
        "Unauthenticated: {}",
        String::from_utf8_lossy(&anonymous.stderr)
    );
    let invalid = grpcurl_cmd(&[
        "-H",
        &bearer,
        "-d",
        r#"{"spec": {"runtime": {"enVars": []}}}"#,
        &addr,
        "cordium.v1.MainService/CreateWorkspace",
    ]);
    assert_eq!(
        invalid.status.code(),
        Some(64 + 3),
        "InvalidArgument: {}",
        String::from_utf8_lossy(&invalid.stderr)
    );
    assert!(
        String::from_utf8_lossy(&invalid.stderr).contains("spec.runtime.enVars"),
        "{}",
        String::from_utf8_lossy(&invalid.stderr)
    );
    // A secret through grpcurl too, so the log check below covers both clients.
    succeeded(
        "grpcurl CreateSecret",
        &grpcurl_cmd(&[
            "-H",
            &bearer,
            "-d",
            &format!(
                r#"{{"metadata": {{"name": "curl-secret"}}, "data": {{"text": "{secret}-curl"}}, "status": {{"space": "curl.alice"}}}}"#
            ),
            &addr,
            "cordium.v1.MainService/CreateSecret",
        ]),
    );
    let listed = succeeded(
        "grpcurl ListSecret",
        &grpcurl_cmd(&[
            "-H",
            &bearer,
            "-d",
            r#"{"space": "curl.alice"}"#,
            &addr,
            "cordium.v1.MainService/ListSecret",
        ]),
    );
    assert!(
        listed.contains("curl-secret") && !listed.contains(&secret),
        "{listed}"
    );

    // The server's log names what happened, and never a secret value or a token.
    let log = server.stderr();
    assert!(
        log.contains("space created") && log.contains("secret created"),
        "the log records the writes:\n{log}"
    );
    assert!(
        !log.contains(&secret),
        "the server's stderr holds the secret value:\n{log}"
    );
    assert!(
        !log.contains(&token),
        "the server's stderr holds an API token:\n{log}"
    );
}
