//! Explaining a failed start in words, the same for `cordium run` (the CLI) and the web
//! console (the server): one place says what each structured failure means and what to
//! check next.

/// One line saying what failed: `task `install` exited with code 3`, `the image could not
/// be pulled`, ...
pub fn headline(failure: &crate::Failure) -> String {
    use crate::failure::Type;
    match &failure.r#type {
        Some(Type::ImagePull(_)) => "the image could not be pulled".to_owned(),
        Some(Type::ImageBuild(_)) => "the image could not be built".to_owned(),
        Some(Type::RepoClone(_)) => "the repository could not be cloned".to_owned(),
        Some(Type::Task(t)) => format!("task `{}` exited with code {}", t.name, t.exit_code),
        Some(Type::HealthCheck(_)) => "the health check failed".to_owned(),
        Some(Type::StartupTimeout(_)) => "the workspace did not start in time".to_owned(),
        Some(Type::RunContainer(_)) => "the container could not run".to_owned(),
        Some(Type::Unknown(_)) | None => "the start failed".to_owned(),
    }
}

/// What to look at for each kind of failure.
pub fn advice(failure: &crate::Failure) -> &'static str {
    use crate::failure::Type;
    match &failure.r#type {
        Some(Type::ImagePull(_)) => {
            "check the image reference (--image, spec.image.registry.url), its registry credentials, and that the server can reach the registry"
        }
        Some(Type::ImageBuild(_)) => {
            "check the Dockerfile or devcontainer definition (spec.image) and its build output"
        }
        Some(Type::RepoClone(_)) => {
            "check the repository URL and branch (--repository, --branch, spec.repository) and its credentials"
        }
        Some(Type::Task(_)) => {
            "fix the task (spec.runtime.tasks), or give it `onFailure: ON_FAILURE_CONTINUE` to keep the workspace running and inspect it with `cordium exec` and `cordium logs`"
        }
        Some(Type::HealthCheck(_) | Type::StartupTimeout(_) | Type::RunContainer(_)) => {
            "check the image's entrypoint and command (spec.runtime.cmd, spec.runtime.entrypoint)"
        }
        Some(Type::Unknown(_)) | None => "the message above says what the server found",
    }
}
