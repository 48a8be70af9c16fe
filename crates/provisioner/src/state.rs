//! Lifecycle states, structured failures, and the one table of legal transitions.
//!
//! A start runs `STOPPED → INIT_REQUEST → INITIALIZING → [PULLING_IMAGE | BUILDING_IMAGE] →
//! STARTING_RUNTIME → PREPARING → RUNNING` (the image states on fresh runs only); an orderly
//! stop runs `→ STOPPING_REQUEST → STOPPING → STOPPED` (a workspace that stops itself, on
//! `autoStop` or at the end of a build, goes `RUNNING → STOPPING` directly). Those are
//! [`Cause::Progress`] moves, checked by [`can_move`].
//!
//! A [`Failure`] moves a workspace out of any active state, as upstream does: to `STOPPING`
//! when the supervisor can still shut it down (upstream's supervisor sets `STOPPING` on every
//! shutdown, whatever the state), or straight to `STOPPED` when it cannot (nothing was started
//! yet, the supervisor is unreachable, or the stop itself failed). Those are
//! [`Cause::Failure`] moves, checked by [`can_fail`]. The only progress move into `STOPPED` is
//! from `STOPPING`, so every way back to `STOPPED` passes through `STOPPING` or a failure.
//!
//! The table drives the run: a start walks [`start_path`] (its order is the table's), and the
//! server writes every state only after [`check`] accepts the move.

use crate::Error;
use std::fmt;

/// The lifecycle state of a Workspace (upstream `Workspace.Status.State`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub enum State {
    /// Not running; storage is kept if the workspace is persistent.
    #[serde(rename = "STOPPED")]
    Stopped,
    /// A start request was accepted by the API server.
    #[serde(rename = "INIT_REQUEST")]
    InitRequest,
    /// The backend is provisioning the pod or container and waiting for the supervisor.
    #[serde(rename = "INITIALIZING")]
    Initializing,
    /// The image is being pulled (fresh runs).
    #[serde(rename = "PULLING_IMAGE")]
    PullingImage,
    /// The image is being built (fresh runs).
    #[serde(rename = "BUILDING_IMAGE")]
    BuildingImage,
    /// The container has started and the agent is initializing.
    #[serde(rename = "STARTING_RUNTIME")]
    StartingRuntime,
    /// The agent runs the lifecycle setup: clones, dotfiles, ON_CREATE and POST_START tasks.
    #[serde(rename = "PREPARING")]
    Preparing,
    /// Fully initialized and ready for use.
    #[serde(rename = "RUNNING")]
    Running,
    /// A stop was requested.
    #[serde(rename = "STOPPING_REQUEST")]
    StoppingRequest,
    /// Shutting down: PRE_STOP tasks, then background tasks are terminated.
    #[serde(rename = "STOPPING")]
    Stopping,
}

impl State {
    /// Every state, in lifecycle order.
    pub const ALL: [State; 10] = [
        State::Stopped,
        State::InitRequest,
        State::Initializing,
        State::PullingImage,
        State::BuildingImage,
        State::StartingRuntime,
        State::Preparing,
        State::Running,
        State::StoppingRequest,
        State::Stopping,
    ];

    /// The wire name (`INIT_REQUEST`), as in the API's `WorkspaceState`.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Stopped => "STOPPED",
            State::InitRequest => "INIT_REQUEST",
            State::Initializing => "INITIALIZING",
            State::PullingImage => "PULLING_IMAGE",
            State::BuildingImage => "BUILDING_IMAGE",
            State::StartingRuntime => "STARTING_RUNTIME",
            State::Preparing => "PREPARING",
            State::Running => "RUNNING",
            State::StoppingRequest => "STOPPING_REQUEST",
            State::Stopping => "STOPPING",
        }
    }

    /// Started but not yet `RUNNING`: `INIT_REQUEST`, `INITIALIZING`, `PULLING_IMAGE`,
    /// `BUILDING_IMAGE`, `STARTING_RUNTIME`, `PREPARING`.
    pub fn is_pre_running(self) -> bool {
        matches!(
            self,
            State::InitRequest
                | State::Initializing
                | State::PullingImage
                | State::BuildingImage
                | State::StartingRuntime
                | State::Preparing
        )
    }

    /// On the way down: `STOPPING_REQUEST`, `STOPPING`.
    pub fn is_stopping(self) -> bool {
        matches!(self, State::StoppingRequest | State::Stopping)
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Started but not yet `RUNNING` (see [`State::is_pre_running`]).
pub fn is_pre_running(state: State) -> bool {
    state.is_pre_running()
}

/// On the way down (see [`State::is_stopping`]).
pub fn is_stopping(state: State) -> bool {
    state.is_stopping()
}

/// Why a run failed (upstream `Workspace.Status.Failure`), observable through WatchWorkspace.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Failure {
    /// The image could not be pulled.
    ImagePull,
    /// The image could not be built.
    ImageBuild,
    /// A repository could not be cloned.
    RepositoryClone {
        /// The additional repository's name; `None` for the primary repository.
        additional: Option<String>,
    },
    /// A task with `onFailure: ON_FAILURE_ABORT` failed.
    Task {
        /// The task's name.
        name: String,
        /// Its exit code (`-1` when it was killed by a signal or could not start).
        exit_code: i32,
    },
    /// The workspace stopped answering health checks.
    HealthCheck,
    /// The start did not finish in time.
    StartupTimeout,
    /// The container could not be run.
    RunContainer,
    /// Anything else (for example, the supervisor could not be reached).
    Unknown,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::ImagePull => f.write_str("image pull failed"),
            Failure::ImageBuild => f.write_str("image build failed"),
            Failure::RepositoryClone { additional: None } => f.write_str("repository clone failed"),
            Failure::RepositoryClone {
                additional: Some(name),
            } => {
                write!(f, "additional repository `{name}` clone failed")
            }
            Failure::Task { name, exit_code } => {
                write!(f, "task `{name}` exited with code {exit_code}")
            }
            Failure::HealthCheck => f.write_str("health check failed"),
            Failure::StartupTimeout => f.write_str("startup timed out"),
            Failure::RunContainer => f.write_str("container failed to run"),
            Failure::Unknown => f.write_str("unknown failure"),
        }
    }
}

/// What makes a move happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum Cause {
    /// The normal course of a start or a stop.
    Progress,
    /// A [`Failure`].
    Failure,
}

/// One row of the transition table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Transition {
    /// The state moved from.
    pub from: State,
    /// The state moved to.
    pub to: State,
    /// What makes the move.
    pub cause: Cause,
}

const fn row(from: State, to: State, cause: Cause) -> Transition {
    Transition { from, to, cause }
}

use Cause::{Failure as F, Progress as P};
use State::*;

/// Every legal move; nothing else is legal.
pub const TRANSITIONS: &[Transition] = &[
    // A start.
    row(Stopped, InitRequest, P),
    row(InitRequest, Initializing, P),
    row(Initializing, PullingImage, P),
    row(Initializing, BuildingImage, P),
    row(Initializing, StartingRuntime, P), // runs that are not fresh reuse the container
    row(PullingImage, StartingRuntime, P),
    row(BuildingImage, StartingRuntime, P),
    row(StartingRuntime, Preparing, P),
    row(Preparing, Running, P),
    // A stop request (API, cluster) is accepted in every started state.
    row(InitRequest, StoppingRequest, P),
    row(Initializing, StoppingRequest, P),
    row(PullingImage, StoppingRequest, P),
    row(BuildingImage, StoppingRequest, P),
    row(StartingRuntime, StoppingRequest, P),
    row(Preparing, StoppingRequest, P),
    row(Running, StoppingRequest, P),
    // The workspace stops itself (autoStop, end of a build).
    row(Running, Stopping, P),
    row(StoppingRequest, Stopping, P),
    row(Stopping, Stopped, P),
    // A failure where the supervisor runs: it shuts the workspace down.
    row(Initializing, Stopping, F),
    row(PullingImage, Stopping, F),
    row(BuildingImage, Stopping, F),
    row(StartingRuntime, Stopping, F),
    row(Preparing, Stopping, F),
    row(Running, Stopping, F),
    row(StoppingRequest, Stopping, F),
    // A failure nothing can shut down gracefully: the backend tears it down.
    row(InitRequest, Stopped, F),
    row(Initializing, Stopped, F),
    row(PullingImage, Stopped, F),
    row(BuildingImage, Stopped, F),
    row(StartingRuntime, Stopped, F),
    row(Preparing, Stopped, F),
    row(Running, Stopped, F),
    row(StoppingRequest, Stopped, F),
    row(Stopping, Stopped, F),
];

/// Checks `from → to` against [`TRANSITIONS`]: a progress move when `failure` is `None`, a
/// failure's move otherwise. The error names both states (and the failure).
pub fn check(from: State, to: State, failure: Option<&Failure>) -> Result<(), Error> {
    match failure {
        None if can_move(from, to) => Ok(()),
        None => Err(Error::IllegalMove { from, to }),
        Some(_) if can_fail(from, to) => Ok(()),
        Some(failure) => Err(Error::IllegalFailureMove {
            from,
            to,
            failure: failure.clone(),
        }),
    }
}

/// The states a start passes through, from `INIT_REQUEST` to `RUNNING`, read off
/// [`TRANSITIONS`] (so the order is written once, there): from `STOPPED`, each progress move
/// that neither stops nor fails, through `image` (`PULLING_IMAGE` or `BUILDING_IMAGE`) when
/// the run prepares one and past the image states when it does not.
pub fn start_path(image: Option<State>) -> Vec<State> {
    let is_image = |s: State| matches!(s, State::PullingImage | State::BuildingImage);
    let mut path = Vec::new();
    let mut at = State::Stopped;
    while at != State::Running && path.len() < State::ALL.len() {
        let next = TRANSITIONS
            .iter()
            .filter(|t| t.from == at && t.cause == Cause::Progress)
            .map(|t| t.to)
            .find(|&to| {
                !to.is_stopping() && to != State::Stopped && (!is_image(to) || Some(to) == image)
            });
        let Some(next) = next else { break };
        path.push(next);
        at = next;
    }
    path
}

/// Whether `from → to` is a legal move in the normal course of a start or stop.
pub fn can_move(from: State, to: State) -> bool {
    TRANSITIONS.contains(&row(from, to, Cause::Progress))
}

/// Whether a failure may move a workspace from `from` to `to`.
pub fn can_fail(from: State, to: State) -> bool {
    TRANSITIONS.contains(&row(from, to, Cause::Failure))
}

/// The state of one Workspace, moved only along [`TRANSITIONS`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateMachine {
    state: State,
    failure: Option<Failure>,
}

impl Default for StateMachine {
    fn default() -> Self {
        Self::new()
    }
}

impl StateMachine {
    /// A stopped workspace with no failure (Workspaces are created `STOPPED`).
    pub fn new() -> Self {
        Self::at(State::Stopped)
    }

    /// A machine resumed at a stored state.
    pub fn at(state: State) -> Self {
        Self {
            state,
            failure: None,
        }
    }

    /// The current state.
    pub fn state(&self) -> State {
        self.state
    }

    /// The failure of the current run, if it failed; cleared when a new run starts.
    pub fn failure(&self) -> Option<&Failure> {
        self.failure.as_ref()
    }

    /// Moves to `to` in the normal course of a start or stop; an illegal move is refused with
    /// an error naming both states, and the state is unchanged.
    pub fn advance(&mut self, to: State) -> Result<State, Error> {
        check(self.state, to, None)?;
        if self.state == State::Stopped {
            self.failure = None;
        }
        self.state = to;
        Ok(to)
    }

    /// Records `failure` and moves to `to` (`STOPPING` or `STOPPED`, as the table allows
    /// from the current state); an illegal move is refused and nothing changes.
    pub fn fail(&mut self, failure: Failure, to: State) -> Result<State, Error> {
        check(self.state, to, Some(&failure))?;
        self.failure = Some(failure);
        self.state = to;
        Ok(to)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;

    /// The progress moves of the lifecycle, written out independently of the table.
    const PROGRESS: &[(State, State)] = &[
        (Stopped, InitRequest),
        (InitRequest, Initializing),
        (Initializing, PullingImage),
        (Initializing, BuildingImage),
        (Initializing, StartingRuntime),
        (PullingImage, StartingRuntime),
        (BuildingImage, StartingRuntime),
        (StartingRuntime, Preparing),
        (Preparing, Running),
        (InitRequest, StoppingRequest),
        (Initializing, StoppingRequest),
        (PullingImage, StoppingRequest),
        (BuildingImage, StoppingRequest),
        (StartingRuntime, StoppingRequest),
        (Preparing, StoppingRequest),
        (Running, StoppingRequest),
        (Running, Stopping),
        (StoppingRequest, Stopping),
        (Stopping, Stopped),
    ];

    #[test]
    fn every_pair_is_a_progress_move_exactly_when_listed() {
        for from in State::ALL {
            for to in State::ALL {
                assert_eq!(
                    can_move(from, to),
                    PROGRESS.contains(&(from, to)),
                    "{from} -> {to}"
                );
            }
        }
    }

    #[test]
    fn failures_go_to_stopping_only_where_a_supervisor_runs() {
        for from in State::ALL {
            let supervised = matches!(
                from,
                Initializing
                    | PullingImage
                    | BuildingImage
                    | StartingRuntime
                    | Preparing
                    | Running
                    | StoppingRequest
            );
            assert_eq!(can_fail(from, Stopping), supervised, "{from}");
        }
    }

    #[test]
    fn failures_go_to_stopped_from_every_active_state() {
        for from in State::ALL {
            assert_eq!(can_fail(from, Stopped), from != Stopped, "{from}");
        }
    }

    #[test]
    fn failures_go_nowhere_else() {
        for from in State::ALL {
            for to in State::ALL {
                if to != Stopping && to != Stopped {
                    assert!(!can_fail(from, to), "{from} -> {to}");
                }
            }
        }
    }

    #[test]
    fn no_self_loops_and_no_duplicate_rows() {
        for (i, t) in TRANSITIONS.iter().enumerate() {
            assert_ne!(t.from, t.to, "{t:?}");
            assert!(!TRANSITIONS[i + 1..].contains(t), "{t:?} twice");
        }
    }

    #[test]
    fn the_only_progress_move_into_stopped_is_from_stopping() {
        for from in State::ALL {
            assert_eq!(can_move(from, Stopped), from == Stopping, "{from}");
        }
    }

    #[test]
    fn a_stopped_workspace_can_only_be_started() {
        for to in State::ALL {
            assert_eq!(can_move(Stopped, to), to == InitRequest, "{to}");
            assert!(!can_fail(Stopped, to), "{to}");
        }
    }

    #[test]
    fn image_states_are_reached_only_from_initializing() {
        for from in State::ALL {
            assert_eq!(can_move(from, PullingImage), from == Initializing, "{from}");
            assert_eq!(
                can_move(from, BuildingImage),
                from == Initializing,
                "{from}"
            );
        }
        assert!(!can_move(PullingImage, BuildingImage));
        assert!(!can_move(BuildingImage, PullingImage));
    }

    #[test]
    fn stop_requests_are_accepted_from_every_started_state() {
        for from in State::ALL {
            let started = from.is_pre_running() || from == Running;
            assert_eq!(can_move(from, StoppingRequest), started, "{from}");
        }
    }

    #[test]
    fn pre_running_states() {
        let expected = [
            InitRequest,
            Initializing,
            PullingImage,
            BuildingImage,
            StartingRuntime,
            Preparing,
        ];
        for s in State::ALL {
            assert_eq!(s.is_pre_running(), expected.contains(&s), "{s}");
            assert_eq!(is_pre_running(s), expected.contains(&s), "{s}");
        }
    }

    #[test]
    fn stopping_states() {
        for s in State::ALL {
            let expected = s == StoppingRequest || s == Stopping;
            assert_eq!(s.is_stopping(), expected, "{s}");
            assert_eq!(is_stopping(s), expected, "{s}");
        }
    }

    #[test]
    fn wire_names_match_the_api() {
        let names: Vec<&str> = State::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(
            names,
            [
                "STOPPED",
                "INIT_REQUEST",
                "INITIALIZING",
                "PULLING_IMAGE",
                "BUILDING_IMAGE",
                "STARTING_RUNTIME",
                "PREPARING",
                "RUNNING",
                "STOPPING_REQUEST",
                "STOPPING"
            ]
        );
    }

    #[test]
    fn a_full_fresh_start_and_stop() {
        let mut m = StateMachine::new();
        for s in [
            InitRequest,
            Initializing,
            PullingImage,
            StartingRuntime,
            Preparing,
            Running,
            StoppingRequest,
            Stopping,
            Stopped,
        ] {
            assert_eq!(m.advance(s), Ok(s));
        }
        assert_eq!(m.state(), Stopped);
        assert_eq!(m.failure(), None);
    }

    #[test]
    fn the_start_path_is_read_off_the_table() {
        assert_eq!(
            start_path(None),
            [
                InitRequest,
                Initializing,
                StartingRuntime,
                Preparing,
                Running
            ]
        );
        for image in [PullingImage, BuildingImage] {
            assert_eq!(
                start_path(Some(image)),
                [
                    InitRequest,
                    Initializing,
                    image,
                    StartingRuntime,
                    Preparing,
                    Running
                ]
            );
        }
    }

    #[test]
    fn check_takes_progress_and_failure_moves_from_the_table() {
        assert_eq!(check(Stopped, InitRequest, None), Ok(()));
        assert_eq!(
            check(StoppingRequest, Initializing, None),
            Err(Error::IllegalMove {
                from: StoppingRequest,
                to: Initializing
            })
        );
        assert_eq!(check(Preparing, Stopping, Some(&Failure::Unknown)), Ok(()));
        let err = check(InitRequest, Stopping, Some(&Failure::Unknown)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "illegal move from INIT_REQUEST to STOPPING on failure (unknown failure)"
        );
    }

    #[test]
    fn illegal_moves_name_both_states_and_change_nothing() {
        let mut m = StateMachine::at(Running);
        let err = m.advance(PullingImage).unwrap_err();
        assert_eq!(
            err,
            Error::IllegalMove {
                from: Running,
                to: PullingImage
            }
        );
        assert_eq!(
            err.to_string(),
            "illegal move from RUNNING to PULLING_IMAGE"
        );
        assert_eq!(m.state(), Running);
    }

    #[test]
    fn a_failure_is_recorded_and_cleared_by_the_next_start() {
        let mut m = StateMachine::at(Preparing);
        let failure = Failure::Task {
            name: "install".into(),
            exit_code: 2,
        };
        assert_eq!(m.fail(failure.clone(), Stopping), Ok(Stopping));
        assert_eq!(m.failure(), Some(&failure));
        m.advance(Stopped).unwrap();
        assert_eq!(m.failure(), Some(&failure), "kept while stopped");
        m.advance(InitRequest).unwrap();
        assert_eq!(m.failure(), None);
    }

    #[test]
    fn an_illegal_failure_move_is_refused() {
        let mut m = StateMachine::at(InitRequest);
        let err = m.fail(Failure::ImagePull, Stopping).unwrap_err();
        assert_eq!(
            err.to_string(),
            "illegal move from INIT_REQUEST to STOPPING on failure (image pull failed)"
        );
        assert_eq!(m.state(), InitRequest);
        assert_eq!(m.failure(), None);
        assert!(StateMachine::new().fail(Failure::Unknown, Stopped).is_err());
    }

    #[test]
    fn failures_describe_themselves() {
        assert_eq!(
            Failure::RepositoryClone { additional: None }.to_string(),
            "repository clone failed"
        );
        assert_eq!(
            Failure::RepositoryClone {
                additional: Some("docs".into())
            }
            .to_string(),
            "additional repository `docs` clone failed"
        );
        assert_eq!(
            Failure::Task {
                name: "t".into(),
                exit_code: -1
            }
            .to_string(),
            "task `t` exited with code -1"
        );
        for f in [
            Failure::ImageBuild,
            Failure::HealthCheck,
            Failure::StartupTimeout,
            Failure::RunContainer,
            Failure::Unknown,
        ] {
            assert!(!f.to_string().is_empty());
        }
    }
}
