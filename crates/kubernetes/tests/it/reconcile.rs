//! The runtime against a scripted mock API server (tower-test, as kube-rs's own tests do):
//! each test lists the requests it expects, in order, with the reply to each; the server
//! asserts the method and path and records the query and body for the test to inspect.

use crate::support::{self, INSTALLATION, OWNER_UID, PREBUILD, SECRET_VALUES, options};
use cordium_kubernetes::runtime::LIST_FROM;
use cordium_kubernetes::{KubernetesOptions, KubernetesRuntime};
use cordium_provisioner::runtime::{
    ContainerState, ExecSpec, Login, Port, ResolvedValue, Runtime, RuntimeError, SecretValue,
    WorkspaceKey,
};
use cordium_provisioner::{VolumeOnStop, VolumeSource};
use http::{Method, Request, Response};
use kube::client::Body;
use serde_json::{Value, json};
use std::time::Duration;
use tokio::task::JoinHandle;

/// What the mock server answers.
enum Reply {
    /// 200 with the request's body, given a uid and a resourceVersion (server-side apply).
    Echo,
    /// This status and body.
    With(u16, Value),
    /// 200 with this plain text (a log).
    Text(&'static str),
}

/// One expected request.
struct Expect {
    method: Method,
    path: String,
    reply: Reply,
}

/// One request the server saw.
#[derive(Debug)]
struct Seen {
    method: Method,
    path: String,
    query: String,
    body: Value,
}

const NS: &str = "/api/v1/namespaces/cordium";
/// The namespace's path in the networking API group.
const NET: &str = "/apis/networking.k8s.io/v1/namespaces/cordium";
const SNAPSHOTS: &str = "/apis/snapshot.storage.k8s.io/v1/namespaces/cordium/volumesnapshots";

fn expect(method: Method, path: impl Into<String>, reply: Reply) -> Expect {
    Expect {
        method,
        path: path.into(),
        reply,
    }
}

fn apply(path: impl Into<String>) -> Expect {
    expect(Method::PATCH, path, Reply::Echo)
}

fn not_found(method: Method, path: impl Into<String>) -> Expect {
    expect(method, path, Reply::With(404, status(404, "NotFound")))
}

fn deleted(path: impl Into<String>) -> Expect {
    expect(
        Method::DELETE,
        path,
        Reply::With(
            200,
            json!({"kind": "Status", "apiVersion": "v1", "status": "Success"}),
        ),
    )
}

fn status(code: u16, reason: &str) -> Value {
    json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": format!("mock: {reason}"), "reason": reason, "code": code,
    })
}

/// A Pod with this `status`.
fn pod(name: &str, status: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "cordium"},
           "spec": {"containers": [{"name": "workspace", "image": "x"}]}, "status": status})
}

fn waiting(name: &str, reason: &str, message: &str) -> Expect {
    let status = json!({"phase": "Pending", "containerStatuses": [{
        "name": "workspace", "image": "x", "imageID": "", "ready": false, "restartCount": 0,
        "state": {"waiting": {"reason": reason, "message": message}}}]});
    expect(
        Method::GET,
        format!("{NS}/pods/{name}"),
        Reply::With(200, pod(name, status)),
    )
}

fn running(name: &str) -> Expect {
    let status = json!({"phase": "Running", "containerStatuses": [{
        "name": "workspace", "image": "x", "imageID": "", "ready": true, "restartCount": 0,
        "state": {"running": {"startedAt": "2026-11-28T12:00:00Z"}}}]});
    expect(
        Method::GET,
        format!("{NS}/pods/{name}"),
        Reply::With(200, pod(name, status)),
    )
}

fn snapshot_read(ready: bool) -> Expect {
    let name = format!("cdm-snap-{PREBUILD}");
    expect(
        Method::GET,
        format!("{SNAPSHOTS}/{name}"),
        Reply::With(
            200,
            json!({"apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshot",
                   "metadata": {"name": name, "namespace": "cordium"},
                   "spec": {"source": {"persistentVolumeClaimName": "cdm-k3x9"}},
                   "status": {"readyToUse": ready}}),
        ),
    )
}

fn fast_options() -> KubernetesOptions {
    KubernetesOptions {
        poll_interval: Duration::from_millis(1),
        ..options()
    }
}

/// A runtime whose API server answers `script`, and the server's task.
fn mock(script: Vec<Expect>) -> (KubernetesRuntime, JoinHandle<Vec<Seen>>) {
    let (service, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let server = tokio::spawn(async move {
        let mut handle = Box::pin(handle);
        let mut seen = Vec::new();
        for (i, step) in script.into_iter().enumerate() {
            let Some((request, send)) = handle.next_request().await else {
                panic!(
                    "step {i}: expected {} {}, the client made no more requests; saw {seen:#?}",
                    step.method, step.path
                );
            };
            let method = request.method().clone();
            let path = request.uri().path().to_owned();
            let query = request.uri().query().unwrap_or_default().to_owned();
            assert_eq!(
                (&method, path.as_str()),
                (&step.method, step.path.as_str()),
                "step {i} (query {query}); before it: {seen:#?}"
            );
            let bytes = request.into_body().collect_bytes().await.expect("body");
            let body: Value = if bytes.is_empty() {
                Value::Null
            } else {
                serde_json::from_slice(&bytes).expect("JSON body")
            };
            let (code, reply) = match step.reply {
                Reply::Text(text) => (200, Value::from(text)),
                Reply::Echo => {
                    let mut reply = body.clone();
                    let uid = if path.ends_with("-owner") {
                        OWNER_UID.to_owned()
                    } else {
                        format!("uid-of-{i}")
                    };
                    reply["metadata"]["uid"] = Value::from(uid);
                    reply["metadata"]["resourceVersion"] = Value::from("1");
                    (200, reply)
                }
                Reply::With(code, reply) => (code, reply),
            };
            seen.push(Seen {
                method,
                path,
                query,
                body,
            });
            let response = Response::builder()
                .status(code)
                .header("content-type", "application/json")
                .body(Body::from(match &reply {
                    Value::String(text) => text.clone().into_bytes(),
                    json => serde_json::to_vec(json).expect("json"),
                }))
                .expect("response");
            send.send_response(response);
        }
        seen
    });
    let client = kube::Client::new(service, "cordium");
    (KubernetesRuntime::new(client, fast_options()), server)
}

/// Drops the runtime (so a missing request shows) and returns what the server saw.
async fn finish(runtime: KubernetesRuntime, server: JoinHandle<Vec<Seen>>) -> Vec<Seen> {
    drop(runtime);
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("the mock server finished its script")
        .expect("the mock server's assertions held")
}

const K3X9: &str = "cdm-k3x9";

/// Every request of a start of `name` up to the Pod's first poll, for a spec without secrets
/// or ports, when nothing is left from an earlier run.
fn start_script(name: &str, volume: VolumeSource) -> Vec<Expect> {
    let mut script = vec![
        apply(format!("{NS}/configmaps/{name}-owner")),
        not_found(Method::DELETE, format!("{NS}/pods/{name}")),
    ];
    if volume != VolumeSource::Reused {
        script.push(not_found(
            Method::DELETE,
            format!("{NS}/persistentvolumeclaims/{name}"),
        ));
    }
    script.extend([
        not_found(Method::DELETE, format!("{NS}/secrets/{name}-env")),
        apply(format!("{NS}/persistentvolumeclaims/{name}")),
        apply(format!("{NET}/networkpolicies/{name}")),
        apply(format!("{NS}/pods/{name}")),
        not_found(Method::DELETE, format!("{NS}/services/{name}")),
    ]);
    script
}

#[tokio::test]
async fn first_start_applies_every_object_and_waits_for_the_pod() {
    let mut spec = support::with_secrets();
    spec.ports = vec![Port {
        name: "web".to_owned(),
        port: 8080,
    }];
    let name = "cdm-secrets";
    let (runtime, server) = mock(vec![
        apply(format!("{NS}/configmaps/{name}-owner")),
        not_found(Method::DELETE, format!("{NS}/pods/{name}")),
        not_found(
            Method::DELETE,
            format!("{NS}/persistentvolumeclaims/{name}"),
        ),
        apply(format!("{NS}/secrets/{name}-env")),
        apply(format!("{NS}/persistentvolumeclaims/{name}")),
        apply(format!("{NET}/networkpolicies/{name}")),
        apply(format!("{NS}/pods/{name}")),
        // A Service an earlier version made of the applications is removed; none is made.
        deleted(format!("{NS}/services/{name}")),
        waiting(name, "ContainerCreating", ""),
        running(name),
    ]);
    runtime.start(&spec).await.expect("start");
    let seen = finish(runtime, server).await;
    for request in seen.iter().filter(|r| r.method == Method::PATCH) {
        // Server-side apply, with our field manager, forcing ownership: idempotent.
        assert!(
            request.query.contains("fieldManager=cordium") && request.query.contains("force=true"),
            "{request:?}"
        );
    }
    let body = |path_end: &str| {
        &seen
            .iter()
            .find(|r| r.method == Method::PATCH && r.path.ends_with(path_end))
            .expect("applied")
            .body
    };
    for object in [
        "-env",
        &format!("persistentvolumeclaims/{name}"),
        &format!("networkpolicies/{name}"),
        &format!("pods/{name}"),
    ] {
        assert_eq!(
            body(object)["metadata"]["ownerReferences"][0]["uid"],
            OWNER_UID,
            "{object}"
        );
    }
    // The application's port is reached through portforward only: nothing may connect in.
    let policy = &body(&format!("networkpolicies/{name}"))["spec"];
    assert_eq!(policy["policyTypes"], json!(["Ingress", "Egress"]));
    assert_eq!(policy["ingress"], json!([]));
    let pod = body(&format!("pods/{name}")).to_string();
    for value in SECRET_VALUES {
        assert!(!pod.contains(value), "a secret value is in the Pod");
    }
    assert_eq!(
        body(&format!("persistentvolumeclaims/{name}"))["spec"]["storageClassName"],
        "fast-ssd"
    );
    assert!(body(&format!("persistentvolumeclaims/{name}"))["spec"]["dataSource"].is_null());
}

#[tokio::test]
async fn a_persistent_workspace_restarts_on_its_kept_volume() {
    let spec = support::persistent();
    let mut script = vec![
        // stop: the Pod is deleted and waited for, the Secrets go; the volume is kept.
        deleted(format!("{NS}/pods/{K3X9}")),
        running(K3X9),
        not_found(Method::GET, format!("{NS}/pods/{K3X9}")),
        deleted(format!("{NS}/secrets/{K3X9}-env")),
        not_found(Method::DELETE, format!("{NS}/secrets/{K3X9}-pull")),
    ];
    script.extend(start_script(K3X9, VolumeSource::Reused));
    script.push(running(K3X9));
    let (runtime, server) = mock(script);
    runtime
        .stop(&spec.key, VolumeOnStop::Keep, None)
        .await
        .expect("stop");
    let restart = cordium_provisioner::runtime::ContainerSpec {
        volume: VolumeSource::Reused,
        ..spec
    };
    runtime.start(&restart).await.expect("restart");
    let seen = finish(runtime, server).await;
    assert!(
        !seen
            .iter()
            .any(|r| r.path.contains("persistentvolumeclaims") && r.method == Method::DELETE),
        "the volume was deleted: {seen:#?}"
    );
}

#[tokio::test]
async fn a_conflict_is_retried_then_succeeds() {
    let spec = support::persistent();
    let mut script = start_script(K3X9, VolumeSource::New);
    // The Pod's apply conflicts once.
    script.insert(
        6,
        expect(
            Method::PATCH,
            format!("{NS}/pods/{K3X9}"),
            Reply::With(409, status(409, "Conflict")),
        ),
    );
    script.push(running(K3X9));
    let (runtime, server) = mock(script);
    runtime.start(&spec).await.expect("start after a retry");
    let seen = finish(runtime, server).await;
    assert_eq!(
        seen.iter()
            .filter(|r| r.path.ends_with(&format!("pods/{K3X9}")) && r.method == Method::PATCH)
            .count(),
        2
    );
}

#[tokio::test]
async fn conflicts_that_persist_become_a_conflict_error() {
    let conflict = || {
        expect(
            Method::PATCH,
            format!("{NS}/configmaps/{K3X9}-owner"),
            Reply::With(409, status(409, "Conflict")),
        )
    };
    // One attempt and three retries.
    let (runtime, server) = mock(vec![conflict(), conflict(), conflict(), conflict()]);
    let err = runtime
        .start(&support::persistent())
        .await
        .expect_err("conflict");
    assert!(
        matches!(&err, RuntimeError::Conflict { object, .. } if object == &format!("ConfigMap/{K3X9}-owner")),
        "{err:?}"
    );
    finish(runtime, server).await;
}

#[tokio::test]
async fn an_image_pull_back_off_is_an_image_pull_failure() {
    let spec = support::persistent();
    let mut script = start_script(K3X9, VolumeSource::New);
    script.push(waiting(K3X9, "ContainerCreating", ""));
    script.push(waiting(
        K3X9,
        "ImagePullBackOff",
        "Back-off pulling image \"ghcr.io/cordium/devbox:1.4\"",
    ));
    let (runtime, server) = mock(script);
    let err = runtime.start(&spec).await.expect_err("image pull");
    match &err {
        RuntimeError::ImagePull { image, detail } => {
            assert_eq!(image, "ghcr.io/cordium/devbox:1.4");
            assert!(
                detail.starts_with("ImagePullBackOff: Back-off pulling"),
                "{detail}"
            );
        }
        other => panic!("{other:?}"),
    }
    finish(runtime, server).await;
}

#[tokio::test]
async fn a_crash_is_a_run_container_failure() {
    let spec = support::persistent();
    let mut script = start_script(K3X9, VolumeSource::New);
    script.push(waiting(
        K3X9,
        "CrashLoopBackOff",
        "back-off 10s restarting failed container",
    ));
    let (runtime, server) = mock(script);
    let err = runtime.start(&spec).await.expect_err("crash");
    assert!(
        matches!(&err, RuntimeError::RunContainer { detail } if detail.contains("CrashLoopBackOff")),
        "{err:?}"
    );
    finish(runtime, server).await;
}

#[tokio::test]
async fn states_follow_the_pod() {
    let key = support::persistent().key;
    let (runtime, server) = mock(vec![
        not_found(Method::GET, format!("{NS}/pods/{K3X9}")),
        waiting(K3X9, "ContainerCreating", ""),
        waiting(K3X9, "ErrImagePull", "not found"),
        running(K3X9),
    ]);
    assert_eq!(
        runtime.state(&key).await.expect("state"),
        ContainerState::Absent
    );
    assert_eq!(
        runtime.state(&key).await.expect("state"),
        ContainerState::Pending
    );
    assert_eq!(
        runtime.state(&key).await.expect("state"),
        ContainerState::ImagePullFailed("ErrImagePull: not found".to_owned())
    );
    assert_eq!(
        runtime.state(&key).await.expect("state"),
        ContainerState::Running
    );
    finish(runtime, server).await;
}

/// Many workspaces' states come from one list of this installation's workspace Pods, page by
/// page; a Pod the list does not hold is absent.
#[tokio::test]
async fn many_states_come_from_one_list_of_the_workspace_pods() {
    let keys: Vec<WorkspaceKey> = (0..LIST_FROM)
        .map(|i| WorkspaceKey::new("team.alice", format!("w{i}")))
        .collect();
    let phase = |phase: &str, state: Value| {
        json!({"phase": phase, "containerStatuses": [{
            "name": "workspace", "image": "x", "imageID": "", "ready": true, "restartCount": 0,
            "state": state}]})
    };
    let list = |items: Vec<Value>, next: &str| {
        expect(
            Method::GET,
            format!("{NS}/pods"),
            Reply::With(
                200,
                json!({"kind": "PodList", "apiVersion": "v1",
                       "metadata": {"continue": next}, "items": items}),
            ),
        )
    };
    let running = phase(
        "Running",
        json!({"running": {"startedAt": "2026-11-28T12:00:00Z"}}),
    );
    let exited = phase(
        "Failed",
        json!({"terminated": {"exitCode": 3, "reason": "Error"}}),
    );
    let (runtime, server) = mock(vec![
        list(
            vec![
                pod("cdm-w0", running.clone()),
                // Not one of the keys: ignored.
                pod("cdm-stray", exited.clone()),
            ],
            "page-2",
        ),
        list(vec![pod("cdm-w1", exited), pod("cdm-w2", running)], ""),
    ]);
    let states = runtime.states(&keys).await;
    assert_eq!(states.len(), keys.len());
    assert_eq!(states[0], Ok(ContainerState::Running));
    assert!(
        matches!(&states[1], Ok(ContainerState::Failed(why)) if why.contains('3')),
        "{:?}",
        states[1]
    );
    assert_eq!(states[2], Ok(ContainerState::Running));
    for state in &states[3..] {
        assert_eq!(state, &Ok(ContainerState::Absent));
    }
    let seen = finish(runtime, server).await;
    assert_eq!(seen.len(), 2, "two pages, no read of each Pod");
    let selector = format!(
        "labelSelector=cordium.dev%2Fworkspace%2Ccordium.dev%2Finstallation%3D{INSTALLATION}"
    );
    assert!(seen[0].query.contains(&selector), "{}", seen[0].query);
    assert!(
        seen[1].query.contains("continue=page-2"),
        "{}",
        seen[1].query
    );
}

#[tokio::test]
async fn a_start_goes_on_when_the_former_service_may_not_be_deleted() {
    let name = K3X9;
    let mut script = start_script(name, VolumeSource::New);
    let last = script.pop().expect("the Service step");
    assert_eq!(last.path, format!("{NS}/services/{name}"));
    script.push(expect(
        Method::DELETE,
        format!("{NS}/services/{name}"),
        Reply::With(403, status(403, "Forbidden")),
    ));
    script.extend([running(name)]);
    let (runtime, server) = mock(script);
    runtime
        .start(&support::persistent())
        .await
        .expect("started although the Service could not be deleted");
    finish(runtime, server).await;
}

/// An owner ConfigMap as a list item: its workspace in `data`.
fn owner_item(space: &str, workspace: &str) -> Value {
    json!({"metadata": {"name": format!("cdm-{workspace}-owner")},
           "data": {"space": space, "workspace": workspace}})
}

#[tokio::test]
async fn held_workspaces_are_read_from_this_installations_owners_page_by_page() {
    let list = |items: Vec<Value>, next: &str| {
        expect(
            Method::GET,
            format!("{NS}/configmaps"),
            Reply::With(
                200,
                json!({"kind": "ConfigMapList", "apiVersion": "v1",
                       "metadata": {"continue": next}, "items": items}),
            ),
        )
    };
    let (runtime, server) = mock(vec![
        list(
            vec![
                owner_item("team.alice", "k3x9"),
                // Not an owner of ours: no workspace in its data.
                json!({"metadata": {"name": "stray"}, "data": {"other": "x"}}),
            ],
            "page-2",
        ),
        list(vec![owner_item("team.bob", "q7")], ""),
    ]);
    let held = runtime.held().await.expect("held");
    assert_eq!(
        held,
        [
            WorkspaceKey::new("team.alice", "k3x9"),
            WorkspaceKey::new("team.bob", "q7")
        ]
    );
    let seen = finish(runtime, server).await;
    let selector = format!("labelSelector=cordium.dev%2Finstallation%3D{INSTALLATION}");
    assert!(seen[0].query.contains(&selector), "{}", seen[0].query);
    assert!(seen[0].query.contains("limit=500"), "{}", seen[0].query);
    assert!(seen[1].query.contains(&selector), "{}", seen[1].query);
    assert!(
        seen[1].query.contains("continue=page-2"),
        "{}",
        seen[1].query
    );
}

#[tokio::test]
async fn a_runtime_without_an_installation_holds_nothing() {
    let (service, _handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let runtime = KubernetesRuntime::new(
        kube::Client::new(service, "cordium"),
        KubernetesOptions {
            installation: None,
            ..fast_options()
        },
    );
    // No request is made: the mock would never answer one.
    let held = tokio::time::timeout(Duration::from_secs(5), runtime.held())
        .await
        .expect("answered without a request");
    assert_eq!(held.expect("held"), []);
}

#[tokio::test]
async fn an_ephemeral_stop_deletes_the_volume_and_delete_removes_everything() {
    let key = support::ephemeral().key;
    let name = "cdm-scratch";
    let (runtime, server) = mock(vec![
        not_found(Method::DELETE, format!("{NS}/pods/{name}")),
        deleted(format!("{NS}/secrets/{name}-env")),
        not_found(Method::DELETE, format!("{NS}/secrets/{name}-pull")),
        deleted(format!("{NS}/persistentvolumeclaims/{name}")),
        // delete: the owner first (garbage-collecting the rest), then each object.
        deleted(format!("{NS}/configmaps/{name}-owner")),
        not_found(Method::DELETE, format!("{NS}/pods/{name}")),
        not_found(Method::DELETE, format!("{NS}/services/{name}")),
        deleted(format!("{NET}/networkpolicies/{name}")),
        deleted(format!("{NS}/secrets/{name}-env")),
        not_found(Method::DELETE, format!("{NS}/secrets/{name}-pull")),
        not_found(
            Method::DELETE,
            format!("{NS}/persistentvolumeclaims/{name}"),
        ),
    ]);
    runtime
        .stop(&key, VolumeOnStop::Delete, None)
        .await
        .expect("stop");
    runtime.delete(&key).await.expect("delete");
    let seen = finish(runtime, server).await;
    // Deletion propagates in the background, so owned objects go too.
    assert!(
        seen[4].query.contains("propagationPolicy=Background")
            || seen[4].body["propagationPolicy"] == "Background",
        "{:?}",
        seen[4]
    );
}

#[tokio::test]
async fn a_prebuild_snapshot_is_taken_then_restored() {
    let build = support::persistent();
    let snapshot = format!("cdm-snap-{PREBUILD}");
    let restored = support::prebuilt();
    let name = "cdm-from-build";
    let mut script = vec![
        // The build's stop: Pod gone, volume snapshotted, readiness awaited.
        not_found(Method::DELETE, format!("{NS}/pods/{K3X9}")),
        not_found(Method::DELETE, format!("{NS}/secrets/{K3X9}-env")),
        not_found(Method::DELETE, format!("{NS}/secrets/{K3X9}-pull")),
        apply(format!("{SNAPSHOTS}/{snapshot}")),
        snapshot_read(false),
        snapshot_read(true),
        // snapshot_exists
        snapshot_read(true),
    ];
    script.extend(start_script(name, VolumeSource::FromSnapshot));
    script.push(running(name));
    script.push(deleted(format!("{SNAPSHOTS}/{snapshot}")));
    let (runtime, server) = mock(script);
    runtime
        .stop(&build.key, VolumeOnStop::Snapshot, Some(PREBUILD))
        .await
        .expect("snapshot");
    assert!(runtime.snapshot_exists(PREBUILD).await.expect("exists"));
    runtime.start(&restored).await.expect("restore");
    runtime
        .delete_snapshot(PREBUILD)
        .await
        .expect("delete snapshot");
    let seen = finish(runtime, server).await;
    let taken = &seen[3].body;
    assert_eq!(taken["spec"]["source"]["persistentVolumeClaimName"], K3X9);
    assert_eq!(taken["spec"]["volumeSnapshotClassName"], "csi-snapclass");
    assert!(
        taken["metadata"]["ownerReferences"].is_null(),
        "a pre-build outlives its build"
    );
    let pvc = seen
        .iter()
        .find(|r| {
            r.method == Method::PATCH && r.path.ends_with(&format!("persistentvolumeclaims/{name}"))
        })
        .expect("PVC applied");
    assert_eq!(
        pvc.body["spec"]["dataSource"],
        json!({"apiGroup": "snapshot.storage.k8s.io", "kind": "VolumeSnapshot", "name": snapshot})
    );
}

#[tokio::test]
async fn a_login_is_recorded_as_a_pull_secret_and_no_login_needs_nothing() {
    let key = WorkspaceKey::new("team.alice", "k3x9");
    let login = Login {
        username: "robot".to_owned(),
        password: SecretValue::new(SECRET_VALUES[0]),
    };
    let (runtime, server) = mock(vec![
        apply(format!("{NS}/configmaps/{K3X9}-owner")),
        apply(format!("{NS}/secrets/{K3X9}-pull")),
    ]);
    runtime
        .pull_image(&key, "registry.example.com/team/image:1", None)
        .await
        .expect("no login: nothing to do");
    runtime
        .pull_image(&key, "registry.example.com/team/image:1", Some(&login))
        .await
        .expect("pull secret");
    let seen = finish(runtime, server).await;
    assert_eq!(seen[1].body["type"], "kubernetes.io/dockerconfigjson");
    assert_eq!(
        seen[1].body["metadata"]["ownerReferences"][0]["uid"],
        OWNER_UID
    );
}

#[tokio::test]
async fn images_are_not_built_on_kubernetes() {
    let (runtime, server) = mock(Vec::new());
    let err = runtime
        .build_image(&support::persistent().key, "FROM alpine")
        .await
        .expect_err("no builds");
    assert!(matches!(err, RuntimeError::ImageBuild { .. }), "{err:?}");
    finish(runtime, server).await;
}

#[tokio::test]
async fn exec_needs_a_running_pod() {
    let (runtime, server) = mock(vec![not_found(Method::GET, format!("{NS}/pods/{K3X9}"))]);
    let err = runtime
        .exec(&support::persistent().key, &ExecSpec::captured("true"))
        .await
        .expect_err("not running");
    assert_eq!(
        err,
        RuntimeError::NotRunning {
            name: K3X9.to_owned()
        }
    );
    finish(runtime, server).await;
}

/// The exec request kube sends (the websocket upgrade cannot be mocked through tower-test:
/// the test checks the request and refuses it).
#[tokio::test]
async fn exec_requests_the_wrapper_without_the_environment() {
    let mut exec = ExecSpec::captured("make test");
    exec.env = vec![(
        "TOKEN".to_owned(),
        ResolvedValue::Secret(SecretValue::new(SECRET_VALUES[0])),
    )];
    exec.working_dir = Some("/workspace/app".to_owned());
    let (runtime, server) = mock(vec![
        running(K3X9),
        expect(
            Method::GET,
            format!("{NS}/pods/{K3X9}/exec"),
            Reply::With(403, status(403, "Forbidden")),
        ),
    ]);
    let err = runtime
        .exec(&support::persistent().key, &exec)
        .await
        .expect_err("refused");
    assert!(
        matches!(&err, RuntimeError::Engine { operation, .. } if operation.starts_with("exec in Pod")),
        "{err:?}"
    );
    let seen = finish(runtime, server).await;
    let query = &seen[1].query;
    for part in [
        "container=workspace",
        "stdin=true",
        "stdout=true",
        "stderr=true",
        "command=%2Fbin%2Fsh",
        "command=make+test",
        "command=%2Fworkspace%2Fapp",
    ] {
        assert!(query.contains(part), "{part} not in {query}");
    }
    assert!(
        !query.contains(SECRET_VALUES[0]) && !query.contains("TOKEN"),
        "{query}"
    );
}

#[tokio::test]
async fn logs_stream_the_workspace_container() {
    use futures::StreamExt as _;
    let (runtime, server) = mock(vec![
        expect(
            Method::GET,
            format!("{NS}/pods/{K3X9}/log"),
            Reply::Text("line 1\nline 2\n"),
        ),
        not_found(Method::GET, format!("{NS}/pods/{K3X9}/log")),
    ]);
    let key = support::persistent().key;
    let mut stream = runtime.logs(&key, true).await.expect("logs");
    let mut text = Vec::new();
    while let Some(chunk) = stream.next().await {
        text.extend(chunk.expect("chunk"));
    }
    assert_eq!(text, b"line 1\nline 2\n");
    let err = runtime.logs(&key, false).await.err().expect("no Pod");
    assert_eq!(
        err,
        RuntimeError::NotRunning {
            name: K3X9.to_owned()
        }
    );
    let seen = finish(runtime, server).await;
    assert!(
        seen[0].query.contains("container=workspace") && seen[0].query.contains("follow=true"),
        "{:?}",
        seen[0]
    );
}
