//! `cordium exec`: run a command in a running workspace.

use super::connect::client;
use super::error::ClientError;
use crate::args::{ExecArgs, OnServer};
use crate::output::Output;
use cordium_api as pb;

/// The exit code `cordium exec` passes on: the command's when it is one a process can have
/// (0 to 255), else 255 (e.g. -1: the command could not be run at all).
pub(super) fn exit_code(code: i32) -> i32 {
    if (0..=255).contains(&code) { code } else { 255 }
}

/// `cordium exec NAME [-e KEY=VALUE]... [-w DIR] -- COMMAND...`: runs the command
/// (ExecWorkspace, not interactive), writes its standard output and standard error to ours
/// byte for byte, and returns its exit code.
pub(super) async fn exec(
    command: &OnServer<ExecArgs>,
    out: &mut Output,
) -> Result<i32, ClientError> {
    let args = &command.flags;
    let mut client = client(&command.server).await?;
    let request = pb::ExecWorkspaceRequest {
        name: args.name.clone(),
        command: args.command.clone(),
        env: args.env.iter().map(|(k, v)| format!("{k}={v}")).collect(),
        working_dir: args.workdir.clone().unwrap_or_default(),
    };
    let answer = client.api.exec_workspace(request).await;
    let response = client.answer(answer)?;
    out.out_raw(&response.stdout);
    out.err_raw(&response.stderr);
    Ok(exit_code(response.exit_code))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_a_process_can_have_pass_through() {
        assert_eq!(exit_code(0), 0);
        assert_eq!(exit_code(3), 3);
        assert_eq!(exit_code(255), 255);
        assert_eq!(exit_code(-1), 255);
        assert_eq!(exit_code(256), 255);
    }
}
