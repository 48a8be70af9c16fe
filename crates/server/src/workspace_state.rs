//! Where the API's protobuf workspace states meet the provisioner's [`State`]: the one
//! conversion each way, and [`transition`], the one way the driver and the handlers change a
//! workspace's state, along `cordium_provisioner::state::TRANSITIONS` only.

use crate::pb;
use cordium_provisioner::{Error, Failure, State};

/// The protobuf form of `state`, for the API.
pub fn to_pb(state: State) -> pb::WorkspaceState {
    match state {
        State::Stopped => pb::WorkspaceState::Stopped,
        State::InitRequest => pb::WorkspaceState::InitRequest,
        State::Initializing => pb::WorkspaceState::Initializing,
        State::PullingImage => pb::WorkspaceState::PullingImage,
        State::BuildingImage => pb::WorkspaceState::BuildingImage,
        State::StartingRuntime => pb::WorkspaceState::StartingRuntime,
        State::Preparing => pb::WorkspaceState::Preparing,
        State::Running => pb::WorkspaceState::Running,
        State::StoppingRequest => pb::WorkspaceState::StoppingRequest,
        State::Stopping => pb::WorkspaceState::Stopping,
    }
}

/// The state a protobuf state names; `None` for `STATE_UNKNOWN`, which no workspace is
/// written with.
pub fn from_pb(state: pb::WorkspaceState) -> Option<State> {
    State::ALL.into_iter().find(|s| to_pb(*s) == state)
}

/// The state `status` holds (`None`: unknown).
pub fn current(status: &pb::WorkspaceStatus) -> Option<State> {
    from_pb(status.state())
}

/// The state of a stored workspace (`None`: it has no status, or an unknown state).
pub fn state_of(ws: &pb::Workspace) -> Option<State> {
    ws.status.as_ref().and_then(current)
}

/// Moves `status` (of workspace `name`) to `to` and stamps the time of the change: a progress
/// move when `failure` is `None`, a failure's move otherwise, as the transition table allows
/// ([`cordium_provisioner::check`]). Staying in the current state changes nothing. An illegal
/// move changes nothing, is logged as an error and is returned. A status without a known
/// state counts as `STOPPED` (the state workspaces are created in).
pub fn transition(
    name: &str,
    status: &mut pb::WorkspaceStatus,
    to: State,
    failure: Option<&Failure>,
) -> Result<(), Error> {
    let from = current(status).unwrap_or(State::Stopped);
    if from == to {
        return Ok(());
    }
    if let Err(e) = cordium_provisioner::check(from, to, failure) {
        tracing::error!(workspace = name, "refused to write a state: {e}");
        return Err(e);
    }
    status.state = to_pb(to) as i32;
    status.state_changed_at = Some(crate::service::now());
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;

    #[test]
    fn every_state_converts_both_ways_and_unknown_is_none() {
        for state in State::ALL {
            assert_eq!(from_pb(to_pb(state)), Some(state));
            assert_eq!(to_pb(state).as_str_name(), state.as_str());
        }
        assert_eq!(from_pb(pb::WorkspaceState::StateUnknown), None);
    }

    fn status(state: State) -> pb::WorkspaceStatus {
        pb::WorkspaceStatus {
            state: to_pb(state) as i32,
            ..Default::default()
        }
    }

    #[test]
    fn a_legal_move_writes_the_state_and_its_time() {
        let mut s = status(State::Stopped);
        transition("ws", &mut s, State::InitRequest, None).unwrap();
        assert_eq!(current(&s), Some(State::InitRequest));
        assert!(s.state_changed_at.is_some());

        let mut s = status(State::Preparing);
        transition("ws", &mut s, State::Stopping, Some(&Failure::Unknown)).unwrap();
        assert_eq!(current(&s), Some(State::Stopping));
    }

    #[test]
    fn an_illegal_move_is_an_error_and_changes_nothing() {
        let mut s = status(State::StoppingRequest);
        let err = transition("ws", &mut s, State::Initializing, None).unwrap_err();
        assert_eq!(
            err,
            Error::IllegalMove {
                from: State::StoppingRequest,
                to: State::Initializing
            }
        );
        assert_eq!(s, status(State::StoppingRequest));

        let mut s = status(State::Stopped);
        assert!(transition("ws", &mut s, State::Running, None).is_err());
        assert!(transition("ws", &mut s, State::Stopping, Some(&Failure::Unknown)).is_err());
        assert_eq!(s, status(State::Stopped));
    }

    #[test]
    fn staying_put_is_no_move() {
        let mut s = status(State::Stopping);
        transition("ws", &mut s, State::Stopping, None).unwrap();
        assert_eq!(s, status(State::Stopping));
    }
}
