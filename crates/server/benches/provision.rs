//! Provisioning bench on real podman: time to RUNNING, against baselines measured in the same
//! run.
//!
//! ```text
//! scripts/bench-provision.sh                   # or: cargo bench -p cordium-server --bench provision
//! BENCH_RUNS=5 scripts/bench-provision.sh      # runs per scenario (default 3)
//! ```
//!
//! Scenarios (the server in process with the podman runtime; images from the local registry
//! of [`cordium_testkit::lab`]):
//! - **cold start**: a fresh workspace of a Template whose ON_CREATE does about 10 seconds of
//!   work (`sleep 10`), from StartWorkspace to RUNNING as WatchWorkspace reports it;
//! - **pre-built start**: the same Template after `BuildTemplate`: the new workspace starts
//!   from the build's snapshot and skips ON_CREATE. Target: at most 1/5 of the cold start;
//! - **our start without tasks** against **plain `podman run`** of the same image (`podman
//!   run --detach` of a command that stays up, until podman returns with it running), and
//!   against `podman pull` plus `podman run` (a fresh run of ours pulls too). Target: ours at
//!   most 1.5× plain plus one second;
//! - **persistent restart**: a persistent workspace's second start (its kept container is
//!   started again) against its first, and against plain `podman start` of a stopped
//!   container. Target: at most 1.5× plain `podman start` plus half a second;
//! - **user namespace cost**: plain `podman run --userns=auto:size=65536` (what every
//!   workspace container gets) against plain `podman run`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    missing_docs,
    reason = "bench"
)]

mod support;

use cordium_provisioner::podman::Podman;
use cordium_provisioner::runtime::Runtime;
use cordium_server::pb;
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::{Auth, Main};

fn spec(json: serde_json::Value) -> cordium_api::Spec {
    cordium_api::json::json_to_struct(&json).into()
}

async fn server(data_dir: &std::path::Path) -> Main {
    let api = cordium_server::server::open(data_dir, None)
        .await
        .expect("open the store");
    let runtime: Arc<dyn Runtime> =
        Arc::new(Podman::new(cordium_testkit::lab().podman_options()).expect("podman"));
    let api = cordium_server::server::start_driver(api, runtime);
    let (channel, token) = support::serve(api, false).await;
    pb::main_service_client::MainServiceClient::with_interceptor(channel, Auth::bearer(&token))
}

async fn create(client: &Main, template: &str, json: serde_json::Value) -> String {
    let ws = client
        .clone()
        .create_workspace(pb::Workspace {
            metadata: None,
            spec: Some(spec(json)),
            status: Some(pb::WorkspaceStatus {
                template: template.into(),
                ..Default::default()
            }),
        })
        .await
        .expect("CreateWorkspace")
        .into_inner();
    ws.metadata.expect("metadata").name
}

/// Starts `name` and returns the time until WatchWorkspace reports RUNNING.
async fn time_to_running(client: &Main, name: &str) -> Duration {
    let mut events = client
        .clone()
        .watch_workspace(pb::WatchWorkspaceRequest {
            name: name.into(),
            ..Default::default()
        })
        .await
        .expect("WatchWorkspace")
        .into_inner();
    let started = Instant::now();
    client
        .clone()
        .start_workspace(pb::StartWorkspaceRequest {
            name: name.into(),
            vars: Vec::new(),
        })
        .await
        .expect("StartWorkspace");
    while let Some(event) = events.message().await.expect("watch") {
        let Some(pb::workspace_event::Event::Updated(update)) = event.event else {
            continue;
        };
        let status = update.new.and_then(|w| w.status).unwrap_or_default();
        match status.state() {
            pb::WorkspaceState::Running => return started.elapsed(),
            pb::WorkspaceState::Stopped => panic!("{name} stopped: {:?}", status.failure),
            _ => {}
        }
    }
    panic!("the watch ended before {name} ran")
}

async fn stop(client: &Main, name: &str) {
    let mut events = client
        .clone()
        .watch_workspace(pb::WatchWorkspaceRequest {
            name: name.into(),
            ..Default::default()
        })
        .await
        .expect("WatchWorkspace")
        .into_inner();
    client
        .clone()
        .stop_workspace(pb::StopWorkspaceRequest { name: name.into() })
        .await
        .expect("StopWorkspace");
    while let Some(event) = events.message().await.expect("watch") {
        if let Some(pb::workspace_event::Event::Updated(update)) = event.event
            && update.new.and_then(|w| w.status).map(|s| s.state())
                == Some(pb::WorkspaceState::Stopped)
        {
            return;
        }
    }
}

/// How a plain podman baseline runs its container.
#[derive(Clone, Copy)]
enum Plain {
    /// `podman run`.
    Run,
    /// `podman pull` and `podman run`.
    PullRun,
    /// `podman run --userns=auto:size=65536`.
    RunUserns,
    /// `podman start` of the stopped container (run and stopped untimed first).
    Start,
}

fn podman_run(how: Plain) -> Duration {
    let lab = cordium_testkit::lab();
    let name = format!("cdm-bench-plain-{}", std::process::id());
    let run = |userns: bool| {
        let mut command = lab.podman();
        command.args(["run", "--tls-verify=false", "--detach", "--name", &name]);
        if userns {
            command.arg("--userns=auto:size=65536");
        }
        command.args([
            lab.image.as_str(),
            "sh",
            "-c",
            "trap 'exit 0' TERM; while :; do sleep 3600 & wait $!; done",
        ]);
        cordium_testkit::run(&mut command, "podman run");
    };
    if matches!(how, Plain::Start) {
        run(false);
        cordium_testkit::run(lab.podman().args(["stop", "-t", "5", &name]), "podman stop");
    }
    let started = Instant::now();
    match how {
        Plain::Start => {
            cordium_testkit::run(lab.podman().args(["start", &name]), "podman start");
        }
        Plain::PullRun => {
            cordium_testkit::run(
                lab.podman()
                    .args(["pull", "--quiet", "--tls-verify=false", &lab.image]),
                "podman pull",
            );
            run(false);
        }
        Plain::Run => run(false),
        Plain::RunUserns => run(true),
    }
    let elapsed = started.elapsed();
    // conmon's cleanup may still hold the container's mounts: a busy one is retried.
    for tries in 1.. {
        let out = lab
            .podman()
            .args(["rm", "--force", "-t", "0", &name])
            .output()
            .expect("podman rm");
        if out.status.success() {
            break;
        }
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            tries < 10 && stderr.contains("resource busy"),
            "podman rm failed: {stderr}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    elapsed
}

fn mean(samples: &[Duration]) -> f64 {
    samples.iter().map(Duration::as_secs_f64).sum::<f64>() / samples.len() as f64
}

fn report(label: &str, samples: &[Duration]) -> f64 {
    let m = mean(samples);
    let all: Vec<String> = samples
        .iter()
        .map(|d| format!("{:.2}", d.as_secs_f64()))
        .collect();
    println!("{label:<44} mean {m:>6.2} s   runs [{}]", all.join(", "));
    m
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing else useful.
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let data = tempfile::tempdir().expect("tempdir");
        let client = server(data.path()).await;
        // The default Space and a Template whose ON_CREATE works for about 10 seconds.
        create(&client, "", serde_json::json!({})).await;
        let space = "default.bench";
        client
            .clone()
            .create_template(pb::Template {
                metadata: Some(pb::Metadata {
                    name: "slow".into(),
                    ..Default::default()
                }),
                spec: Some(spec(serde_json::json!({
                    "runtime": {"tasks": [
                        {"name": "install", "type": "ON_CREATE", "run": "sleep 10; echo done > /workspace/installed"},
                    ]},
                }))),
                status: Some(pb::TemplateStatus {
                    space: space.into(),
                    ..Default::default()
                }),
            })
            .await
            .expect("CreateTemplate");

        println!("provisioning on podman, {runs} runs per scenario");
        podman_run(Plain::PullRun); // warm-up: the image is local from here on
        let mut plain = Vec::new();
        let mut pull_plain = Vec::new();
        let mut ours = Vec::new();
        let (mut userns, mut plain_start, mut first, mut second) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for _ in 0..runs {
            plain.push(podman_run(Plain::Run));
            pull_plain.push(podman_run(Plain::PullRun));
            userns.push(podman_run(Plain::RunUserns));
            plain_start.push(podman_run(Plain::Start));
            let name = create(&client, "", serde_json::json!({"isEphemeral": true})).await;
            ours.push(time_to_running(&client, &name).await);
            stop(&client, &name).await;
            let name = create(&client, "", serde_json::json!({})).await;
            first.push(time_to_running(&client, &name).await);
            stop(&client, &name).await;
            second.push(time_to_running(&client, &name).await);
            stop(&client, &name).await;
        }
        let mut cold = Vec::new();
        for _ in 0..runs {
            let name = create(&client, "slow", serde_json::json!({"isEphemeral": true})).await;
            cold.push(time_to_running(&client, &name).await);
            stop(&client, &name).await;
        }
        client
            .clone()
            .build_template(pb::BuildTemplateRequest {
                name: format!("{space}/slow"),
                tags: Vec::new(),
            })
            .await
            .expect("BuildTemplate");
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let t = client
                .clone()
                .get_template(pb::Ref {
                    name: "slow".into(),
                    space: space.into(),
                })
                .await
                .expect("GetTemplate")
                .into_inner();
            if !t.status.unwrap_or_default().current_ready_build_id.is_empty() {
                break;
            }
            assert!(Instant::now() < deadline, "the pre-build never became ready");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let mut prebuilt = Vec::new();
        for _ in 0..runs {
            let name = create(&client, "slow", serde_json::json!({"isEphemeral": true})).await;
            prebuilt.push(time_to_running(&client, &name).await);
            stop(&client, &name).await;
        }

        let plain_mean = report("plain `podman run` (baseline)", &plain);
        let pull_mean = report("`podman pull` + `podman run` (baseline)", &pull_plain);
        let ours_mean = report("our start, no tasks (StartWorkspace→RUNNING)", &ours);
        let cold_mean = report("cold start, ON_CREATE sleeps 10 s", &cold);
        let prebuilt_mean = report("pre-built start of the same Template", &prebuilt);
        println!();
        println!(
            "pre-built / cold          {:.3}   (target ≤ 0.200)",
            prebuilt_mean / cold_mean
        );
        println!(
            "ours / plain podman run   {:.2}×  (target ≤ 1.5× + 1 s: ours {:.2} s against {:.2} s)",
            ours_mean / plain_mean,
            ours_mean,
            plain_mean * 1.5 + 1.0
        );
        println!("ours / pull + run         {:.2}×", ours_mean / pull_mean);
        println!();
        let userns_mean = report("plain `podman run --userns=auto`", &userns);
        let start_mean = report("plain `podman start` of a stopped container", &plain_start);
        let first_mean = report("persistent workspace, first start", &first);
        let second_mean = report("persistent workspace, second start", &second);
        println!();
        println!(
            "userns / plain run        {:.2}×  (+{:.2} s per container)",
            userns_mean / plain_mean,
            userns_mean - plain_mean
        );
        println!("second / first start      {:.2}×", second_mean / first_mean);
        println!(
            "second / plain start      {:.2}×  (target ≤ 1.5× + 0.5 s: ours {:.2} s against {:.2} s)",
            second_mean / start_mean,
            second_mean,
            start_mean * 1.5 + 0.5
        );
    });
}
