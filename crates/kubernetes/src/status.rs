//! What a Pod's phase and container states say about the workspace, in the seed's terms.

use crate::objects::CONTAINER;
use cordium_provisioner::runtime::ContainerState;
use k8s_openapi::api::core::v1::Pod;

/// Waiting reasons that mean the image cannot be pulled.
pub const IMAGE_PULL_REASONS: &[&str] = &[
    "ImagePullBackOff",
    "ErrImagePull",
    "ErrImageNeverPull",
    "InvalidImageName",
    "RegistryUnavailable",
];

/// Waiting reasons that mean the container cannot run.
pub const RUN_FAILURE_REASONS: &[&str] = &[
    "CrashLoopBackOff",
    "CreateContainerConfigError",
    "CreateContainerError",
    "RunContainerError",
    "PreStartHookError",
    "PostStartHookError",
];

/// The state of the workspace's container in `pod` (`None`: there is no Pod).
///
/// - a waiting reason of [`IMAGE_PULL_REASONS`] → [`ContainerState::ImagePullFailed`];
/// - a waiting reason of [`RUN_FAILURE_REASONS`], a terminated container, or the phase
///   `Failed` or `Succeeded` (the workspace's command exited) → [`ContainerState::Failed`];
/// - a running container in a `Running` Pod that is not being deleted →
///   [`ContainerState::Running`];
/// - anything else (scheduling, volume binding, image pulling, deletion) →
///   [`ContainerState::Pending`].
pub fn container_state(pod: Option<&Pod>) -> ContainerState {
    let Some(pod) = pod else {
        return ContainerState::Absent;
    };
    let status = pod.status.as_ref();
    let container = status
        .and_then(|s| s.container_statuses.as_ref())
        .and_then(|all| all.iter().find(|c| c.name == CONTAINER));
    let state = container.and_then(|c| c.state.as_ref());
    if let Some(waiting) = state.and_then(|s| s.waiting.as_ref()) {
        let reason = waiting.reason.as_deref().unwrap_or_default();
        let detail = match &waiting.message {
            Some(message) => format!("{reason}: {message}"),
            None => reason.to_owned(),
        };
        if IMAGE_PULL_REASONS.contains(&reason) {
            return ContainerState::ImagePullFailed(detail);
        }
        if RUN_FAILURE_REASONS.contains(&reason) {
            return ContainerState::Failed(detail);
        }
    }
    if let Some(terminated) = state.and_then(|s| s.terminated.as_ref()) {
        let mut detail = format!("the container exited with code {}", terminated.exit_code);
        if let Some(reason) = &terminated.reason {
            detail.push_str(&format!(" ({reason})"));
        }
        if let Some(message) = &terminated.message {
            detail.push_str(&format!(": {message}"));
        }
        return ContainerState::Failed(detail);
    }
    let phase = status.and_then(|s| s.phase.as_deref()).unwrap_or("Pending");
    match phase {
        "Failed" | "Succeeded" => {
            let reason = status
                .and_then(|s| s.message.clone().or_else(|| s.reason.clone()))
                .unwrap_or_default();
            ContainerState::Failed(format!("the Pod is {phase}: {reason}"))
        }
        "Running"
            if pod.metadata.deletion_timestamp.is_none()
                && state.is_some_and(|s| s.running.is_some()) =>
        {
            ContainerState::Running
        }
        _ => ContainerState::Pending,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(status: serde_json::Value) -> Pod {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "p"}, "status": status
        }))
        .expect("pod")
    }

    fn with_state(phase: &str, state: serde_json::Value) -> Pod {
        pod(serde_json::json!({"phase": phase, "containerStatuses": [{
            "name": CONTAINER, "image": "x", "imageID": "", "ready": false,
            "restartCount": 0, "state": state}]}))
    }

    #[test]
    fn pod_phases_and_container_states_map_to_container_states() {
        assert_eq!(container_state(None), ContainerState::Absent);
        assert_eq!(
            container_state(Some(&pod(serde_json::json!({})))),
            ContainerState::Pending
        );
        assert_eq!(
            container_state(Some(&with_state(
                "Pending",
                serde_json::json!({"waiting": {"reason": "InvalidImageName"}})
            ))),
            ContainerState::ImagePullFailed("InvalidImageName".to_owned())
        );
        assert_eq!(
            container_state(Some(&with_state(
                "Pending",
                serde_json::json!({"waiting": {"reason": "CreateContainerConfigError",
                                               "message": "secret \"s\" not found"}})
            ))),
            ContainerState::Failed("CreateContainerConfigError: secret \"s\" not found".to_owned())
        );
        assert_eq!(
            container_state(Some(&with_state(
                "Failed",
                serde_json::json!({"terminated": {"exitCode": 137, "reason": "OOMKilled"}})
            ))),
            ContainerState::Failed("the container exited with code 137 (OOMKilled)".to_owned())
        );
        assert_eq!(
            container_state(Some(&with_state(
                "Running",
                serde_json::json!({"running": {}})
            ))),
            ContainerState::Running
        );
        assert_eq!(
            container_state(Some(&pod(
                serde_json::json!({"phase": "Failed", "reason": "Evicted"})
            ))),
            ContainerState::Failed("the Pod is Failed: Evicted".to_owned())
        );
    }

    #[test]
    fn a_pod_being_deleted_is_not_running() {
        let mut running = with_state("Running", serde_json::json!({"running": {}}));
        running.metadata.deletion_timestamp =
            Some(serde_json::from_value(serde_json::json!("2026-11-28T12:00:00Z")).expect("time"));
        assert_eq!(container_state(Some(&running)), ContainerState::Pending);
    }
}
