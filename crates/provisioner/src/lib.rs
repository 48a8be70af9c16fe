//! The pure core of the Cordium provisioner, shared by every backend (podman, Kubernetes).
//!
//! - [`state`]: the lifecycle states of a Workspace, the structured [`Failure`]s, the one
//!   [table of legal transitions](state::TRANSITIONS), the check every state write goes
//!   through ([`check`]), the order of a start's states read off the table ([`start_path`]),
//!   and a [`StateMachine`] that refuses any other move.
//! - [`fresh`]: upstream's fresh-run rule ([`is_fresh_run`]) and what a fresh run, a run
//!   restored from a pre-build and a build each do differently ([`RunContext`]).
//! - [`plan`](mod@plan): from an [`EffectiveWorkspace`](cordium_merge::EffectiveWorkspace) and a
//!   [`RunContext`], the ordered start plan (the container included) and stop plan as data
//!   ([`plan()`]): the whole contract between the compiler and the runtime; and what a
//!   task's exit code does to the start ([`task_outcome`]).
//!
//! Nothing here performs input or output, reads a clock or runs a process: a backend executes
//! the plan and reports back through the state machine. Secret values never appear: the plan
//! names Secrets and UserSecrets, and marks the session credential as a placeholder
//! ([`EnvValue::SessionToken`]) the runtime fills in.
//!
//! ```
//! use cordium_provisioner::{RunContext, RunFacts, State, StateMachine};
//!
//! let ctx = RunContext::new(&RunFacts { successful_runs: 3, ..RunFacts::default() });
//! assert!(!ctx.fresh);
//!
//! let mut machine = StateMachine::new();
//! machine.advance(State::InitRequest).unwrap();
//! let err = machine.advance(State::Running).unwrap_err();
//! assert_eq!(err.to_string(), "illegal move from INIT_REQUEST to RUNNING");
//! ```

pub mod fresh;
pub mod lifecycle;
pub mod plan;
pub mod podman;
pub mod pty;
pub mod runtime;
pub mod state;

pub use fresh::{Recreate, RunContext, RunFacts, is_fresh_run};
pub use plan::{
    Capabilities, CloneHistory, CloneStep, ContainerPlan, Credentials, DEFAULT_CAPABILITIES,
    DOTFILES_DIR, DOTFILES_INSTALL_SCRIPTS, DockerfileSource, DotfilesStep, EnvEntry, EnvValue,
    ImageStep, Mount, Plan, PlannedTask, Port, Recipe, RepositoryBuild, Resources, ReusedImage,
    SESSION_TOKEN_VAR, SecretSource, StartPlan, StopPlan, TaskOutcome, VolumeOnStop, VolumeSource,
    VolumeStep, WORKSPACE_DIR, capabilities, check_grantable, plan, task_outcome,
};
pub use state::{
    Cause, Failure, State, StateMachine, Transition, can_fail, can_move, check, is_pre_running,
    is_stopping, start_path,
};

/// Everything that can go wrong in this crate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A move that is not in the transition table.
    #[error("illegal move from {from} to {to}")]
    IllegalMove {
        /// The current state.
        from: State,
        /// The state asked for.
        to: State,
    },
    /// A failure asked to move somewhere failures do not go.
    #[error("illegal move from {from} to {to} on failure ({failure})")]
    IllegalFailureMove {
        /// The current state.
        from: State,
        /// The state asked for.
        to: State,
        /// The failure.
        failure: Failure,
    },
    /// A fresh run builds the image from the primary repository (`spec.image.repository`),
    /// but the workspace has no repository URL: the compiler accepts that workspace (a run
    /// that reuses its image never builds it), so the start is refused here.
    #[error(
        "`spec.image.repository` builds the image from the primary repository, but `spec.repository.url` is not set"
    )]
    NoRepositoryToBuild,
    /// A layer added a capability that is not [grantable](crate::plan::is_grantable).
    #[error(
        "`spec.runtime.capabilities.add` holds `{capability}`, which no workspace is granted (its isolation depends on withholding it); remove it, or add only {}",
        crate::plan::grantable_list()
    )]
    CapabilityNotGrantable {
        /// The capability, upper case without `CAP_` (`ALL` for every one).
        capability: String,
    },
}
