//! The reconcile scenario against a real cluster, run by `scripts/e2e-kubernetes.sh` when
//! `KUBECONFIG` names a cluster (none can run on the project's machines, so CI only builds it).
//!
//! Settings, from the environment: `CORDIUM_E2E_NAMESPACE` (default `default`),
//! `CORDIUM_E2E_STORAGE_CLASS` and `CORDIUM_E2E_SNAPSHOT_CLASS` (defaults: the cluster's),
//! `CORDIUM_E2E_IMAGE` (default `docker.io/library/busybox:1.36`). The pre-build part runs
//! only with `CORDIUM_E2E_SNAPSHOTS=1` (the cluster needs the CSI snapshot controller).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a test scenario"
)]

use cordium_kubernetes::{KubernetesOptions, KubernetesRuntime};
use cordium_provisioner::runtime::{
    ContainerSpec, ContainerState, ExecSpec, ResolvedValue, Resources, Runtime, RuntimeError,
    SecretValue, WorkspaceKey,
};
use cordium_provisioner::{VolumeOnStop, VolumeSource};
use std::time::Duration;

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn spec(name: &str, image: &str) -> ContainerSpec {
    ContainerSpec {
        key: WorkspaceKey::new("e2e", name),
        image: image.to_owned(),
        entrypoint: None,
        cmd: None,
        env: vec![
            (
                "PLAIN".to_owned(),
                ResolvedValue::Literal("plain".to_owned()),
            ),
            (
                "TOKEN".to_owned(),
                ResolvedValue::Secret(SecretValue::new("e2e-secret")),
            ),
        ],
        resources: Resources {
            cpu_millis: Some(250),
            memory_mib: Some(128),
            storage_mib: Some(1024),
        },
        add_capabilities: Vec::new(),
        drop_capabilities: Vec::new(),
        ports: Vec::new(),
        volume: VolumeSource::New,
        snapshot: None,
        read_only: false,
        mounts: Vec::new(),
        egress: Default::default(),
        recipe: Default::default(),
    }
}

#[tokio::main]
async fn main() {
    assert!(
        env("KUBECONFIG").is_some(),
        "KUBECONFIG must name a cluster"
    );
    let options = KubernetesOptions {
        namespace: env("CORDIUM_E2E_NAMESPACE").unwrap_or_else(|| "default".to_owned()),
        storage_class: env("CORDIUM_E2E_STORAGE_CLASS"),
        snapshot_class: env("CORDIUM_E2E_SNAPSHOT_CLASS"),
        start_timeout: Duration::from_secs(300),
        ..KubernetesOptions::default()
    };
    let runtime = KubernetesRuntime::from_kubeconfig(options)
        .await
        .expect("a client from KUBECONFIG");
    let image =
        env("CORDIUM_E2E_IMAGE").unwrap_or_else(|| "docker.io/library/busybox:1.36".to_owned());
    let suffix = std::process::id();
    let first = spec(&format!("ws-{suffix}"), &image);

    // First start, a task writing to the volume, the secret visible only inside.
    runtime.start(&first).await.expect("first start");
    assert_eq!(
        runtime.state(&first.key).await.expect("state"),
        ContainerState::Running
    );
    let out = runtime
        .exec(
            &first.key,
            &ExecSpec::captured("echo kept > /workspace/file; printf %s \"$TOKEN\""),
        )
        .await
        .expect("exec");
    assert_eq!(
        (out.exit_code, out.stdout.as_slice()),
        (0, b"e2e-secret".as_slice())
    );
    let failing = runtime
        .exec(&first.key, &ExecSpec::captured("exit 7"))
        .await
        .expect("exec");
    assert_eq!(failing.exit_code, 7);

    // Restart on the kept volume: the file survives.
    runtime
        .stop(&first.key, VolumeOnStop::Keep, None)
        .await
        .expect("stop");
    assert_eq!(
        runtime.state(&first.key).await.expect("state"),
        ContainerState::Absent
    );
    let restart = ContainerSpec {
        volume: VolumeSource::Reused,
        ..first.clone()
    };
    runtime.start(&restart).await.expect("restart");
    let out = runtime
        .exec(&first.key, &ExecSpec::captured("cat /workspace/file"))
        .await
        .expect("exec");
    assert_eq!(out.stdout, b"kept\n");

    // Re-applying is idempotent.
    runtime.start(&restart).await.expect("start again");

    // Pre-build: snapshot the volume, restore it into another workspace.
    if env("CORDIUM_E2E_SNAPSHOTS").as_deref() == Some("1") {
        let snapshot = format!("e2e-{suffix}");
        runtime
            .stop(&first.key, VolumeOnStop::Snapshot, Some(&snapshot))
            .await
            .expect("snapshot");
        assert!(runtime.snapshot_exists(&snapshot).await.expect("exists"));
        let restored = ContainerSpec {
            volume: VolumeSource::FromSnapshot,
            snapshot: Some(snapshot.clone()),
            ..spec(&format!("restored-{suffix}"), &image)
        };
        runtime.start(&restored).await.expect("restore");
        let out = runtime
            .exec(&restored.key, &ExecSpec::captured("cat /workspace/file"))
            .await
            .expect("exec");
        assert_eq!(out.stdout, b"kept\n");
        runtime
            .delete(&restored.key)
            .await
            .expect("delete restored");
        runtime
            .delete_snapshot(&snapshot)
            .await
            .expect("delete snapshot");
    }

    // Deletion removes everything.
    runtime.delete(&first.key).await.expect("delete");

    // An image that cannot be pulled.
    let broken = spec(
        &format!("broken-{suffix}"),
        "registry.invalid/cordium/none:0",
    );
    let err = runtime
        .start(&broken)
        .await
        .expect_err("image pull failure");
    assert!(matches!(err, RuntimeError::ImagePull { .. }), "{err:?}");
    runtime.delete(&broken.key).await.expect("delete broken");
}
