//! Explaining a failed start: what went wrong (from the structured failure), the server's
//! message, the end of the workspace log when it could be read, and what to do next.

use cordium_api as pb;

use cordium_api::explain::advice;
pub(super) use cordium_api::explain::headline;

/// The whole explanation of a failed start of workspace `name`, for standard error:
/// `error: workspace NAME did not start: HEADLINE`, the server's message when it says more,
/// the end of the log when given, and a `help:` line; `kept` says whether the workspace
/// still exists (so it can be started again).
pub(super) fn explain(
    name: &str,
    failure: &pb::Failure,
    log_tail: Option<&[String]>,
    kept: bool,
) -> String {
    let headline = headline(failure);
    let mut text = format!("error: workspace {name} did not start: {headline}\n");
    let message = failure.message.trim();
    if !message.is_empty() && message != headline {
        for line in message.lines() {
            text.push_str(&format!("  {line}\n"));
        }
    }
    match log_tail {
        Some(lines) if !lines.is_empty() => {
            text.push_str("  the workspace log ended with:\n");
            for line in lines {
                text.push_str(&format!("  | {line}\n"));
            }
        }
        _ => {}
    }
    text.push_str(&format!("help: {}", advice(failure)));
    if kept {
        text.push_str(&format!(
            "; then `cordium start {name}` runs it again (`cordium get workspace {name}` shows its status)"
        ));
    }
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use pb::failure::Type;

    #[test]
    fn a_task_failure_names_the_task_and_shows_the_log() {
        let failure = pb::Failure {
            message: "task `install` exited with code 3".into(),
            r#type: Some(Type::Task(pb::TaskFailure {
                name: "install".into(),
                exit_code: 3,
            })),
        };
        let text = explain("x7k", &failure, Some(&["npm ERR! 404".to_owned()]), true);
        assert_eq!(
            text,
            "error: workspace x7k did not start: task `install` exited with code 3\n\
             \x20 the workspace log ended with:\n\
             \x20 | npm ERR! 404\n\
             help: fix the task (spec.runtime.tasks), or give it `onFailure: ON_FAILURE_CONTINUE` to keep the workspace running and inspect it with `cordium exec` and `cordium logs`; then `cordium start x7k` runs it again (`cordium get workspace x7k` shows its status)\n"
        );
    }

    #[test]
    fn an_image_pull_failure_shows_the_servers_message() {
        let failure = pb::Failure {
            message: "pulling r/missing:1: manifest unknown".into(),
            r#type: Some(Type::ImagePull(pb::Empty {})),
        };
        let text = explain("x7k", &failure, None, false);
        assert_eq!(
            text,
            "error: workspace x7k did not start: the image could not be pulled\n\
             \x20 pulling r/missing:1: manifest unknown\n\
             help: check the image reference (--image, spec.image.registry.url), its registry credentials, and that the server can reach the registry\n"
        );
    }

    #[test]
    fn every_failure_has_a_headline() {
        let empty = || pb::Empty {};
        for (kind, words) in [
            (Type::ImageBuild(empty()), "the image could not be built"),
            (
                Type::RepoClone(empty()),
                "the repository could not be cloned",
            ),
            (Type::HealthCheck(empty()), "the health check failed"),
            (
                Type::StartupTimeout(empty()),
                "the workspace did not start in time",
            ),
            (Type::RunContainer(empty()), "the container could not run"),
            (Type::Unknown(empty()), "the start failed"),
        ] {
            let failure = pb::Failure {
                message: String::new(),
                r#type: Some(kind),
            };
            assert_eq!(headline(&failure), words);
        }
    }
}
