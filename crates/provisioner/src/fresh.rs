//! Fresh runs: upstream's `isFreshRun`, and what each kind of run does differently.
//!
//! A fresh run is a build, an ephemeral Workspace, or one that never ran successfully, unless
//! it starts from a ready pre-build (whose build already ran ON_CREATE):
//!
//! ```text
//! fresh = is_build || ((is_ephemeral || successful_runs == 0) && !(template_has_ready_build && snapshot_exists))
//! ```
//!
//! A fresh run gets a new `/workspace` volume, pulls or builds the image, clones the
//! repositories and runs ON_CREATE tasks. A run that is not fresh reuses the volume and the
//! container. A run restored from a pre-build starts from the build's snapshot: its image,
//! clones and ON_CREATE results are already there, so none of that runs again. Builds install
//! no dotfiles, run no background and no PRE_STOP tasks, get no session credential, and stop
//! once their tasks are done.

use cordium_merge::EffectiveWorkspace;
use std::time::Duration;

/// The facts `isFreshRun` is decided from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct RunFacts {
    /// The run is a pre-build of a Template (`status.isBuild`).
    pub is_build: bool,
    /// The Workspace is ephemeral (`spec.isEphemeral`).
    pub is_ephemeral: bool,
    /// How many runs of the Workspace succeeded (`status.successfulRuns`).
    pub successful_runs: u32,
    /// The Template has a ready pre-build (`currentReadyBuildID` set).
    pub template_has_ready_build: bool,
    /// The ready pre-build's volume snapshot exists.
    pub snapshot_exists: bool,
    /// The workspace kept its container from the last run, but it cannot be started again
    /// and must be re-created (see [`Recreate`]); `None` when it can, or the backend keeps
    /// no containers.
    pub recreate: Option<Recreate>,
}

/// Why a persistent workspace's kept container is re-created, which makes its run fresh
/// (the image is prepared again and ON_CREATE runs again) while its volumes (`/workspace`
/// and HOME) are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Recreate {
    /// The container of the last run no longer exists (removed outside Cordium).
    ContainerGone,
    /// The workspace's image changed since the container was created.
    ImageChanged,
    /// Other container settings changed (environment, command, limits, capabilities,
    /// ports, mounts, the read-only root, egress).
    SettingsChanged,
}

impl std::fmt::Display for Recreate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Recreate::ContainerGone => "the container of the last run is gone",
            Recreate::ImageChanged => "the image changed",
            Recreate::SettingsChanged => "the container's settings changed",
        })
    }
}

impl RunFacts {
    /// The facts of a run of `workspace` that never ran successfully and has no pre-build:
    /// `is_ephemeral` comes from the workspace (the plan reads it there too); set the other
    /// fields from the stored status.
    pub fn for_workspace(workspace: &EffectiveWorkspace) -> Self {
        Self {
            is_ephemeral: workspace.spec.is_ephemeral,
            ..Self::default()
        }
    }

    /// The Workspace's storage starts empty: it is ephemeral or never ran successfully (and
    /// this is not a build).
    fn first_run(&self) -> bool {
        !self.is_build && (self.is_ephemeral || self.successful_runs == 0)
    }

    /// The run starts from the Template's pre-build snapshot instead of an empty volume.
    pub fn restores_snapshot(&self) -> bool {
        self.first_run() && self.template_has_ready_build && self.snapshot_exists
    }
}

/// Upstream's `isFreshRun`, and a run whose kept container must be re-created
/// ([`RunFacts::recreate`]).
pub fn is_fresh_run(facts: &RunFacts) -> bool {
    facts.is_build
        || ((facts.is_ephemeral || facts.successful_runs == 0)
            && !(facts.template_has_ready_build && facts.snapshot_exists))
        || facts.recreate.is_some()
}

/// How one run is provisioned; decides what the [plan](crate::plan()) holds.
///
/// Build it with [`RunContext::new`]; the fields are public so a backend can restore a
/// stored context.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct RunContext {
    /// A fresh run ([`is_fresh_run`]).
    pub fresh: bool,
    /// A pre-build of a Template.
    pub is_build: bool,
    /// Not fresh, but the first run of this storage: it is restored from the Template's
    /// pre-build snapshot.
    pub from_snapshot: bool,
    /// Fresh because the kept container is re-created: the volumes are kept, so nothing is
    /// cloned and no dotfiles are installed again.
    pub recreate: Option<Recreate>,
}

impl RunContext {
    /// The context of a run with these facts.
    pub fn new(facts: &RunFacts) -> Self {
        Self {
            fresh: is_fresh_run(facts),
            is_build: facts.is_build,
            from_snapshot: facts.restores_snapshot() && facts.recreate.is_none(),
            recreate: facts.recreate.filter(|_| !facts.is_build),
        }
    }

    /// The run starts with new, empty volumes (fresh, and not a re-created container).
    pub fn new_volumes(&self) -> bool {
        self.fresh && self.recreate.is_none()
    }

    /// A fresh run pulls or builds the image; other runs reuse the container.
    pub fn prepares_image(&self) -> bool {
        self.fresh
    }

    /// A fresh run clones the repositories; other runs (and re-created containers) find
    /// them on the volume.
    pub fn clones_repositories(&self) -> bool {
        self.new_volumes()
    }

    /// ON_CREATE tasks run on fresh runs only.
    pub fn runs_on_create(&self) -> bool {
        self.fresh
    }

    /// Dotfiles are installed on the first run of a storage, fresh or restored from a
    /// pre-build (which never installs them), and never in a build. This is upstream's rule
    /// (`!isBuild && (isEphemeral || successfulRuns == 0)`).
    /// A re-created container keeps HOME, and `~/dotfiles` with it.
    pub fn installs_dotfiles(&self) -> bool {
        !self.is_build && self.recreate.is_none() && (self.fresh || self.from_snapshot)
    }

    /// Background tasks are skipped in builds.
    pub fn runs_background_tasks(&self) -> bool {
        !self.is_build
    }

    /// PRE_STOP tasks are skipped in builds.
    pub fn runs_pre_stop(&self) -> bool {
        !self.is_build
    }

    /// Every run but a build gets a session credential (a build's volume becomes a snapshot
    /// shared by every Workspace of the Template, so no credential may reach it).
    pub fn has_session(&self) -> bool {
        !self.is_build
    }

    /// How long the start may take: 60 minutes for builds and fresh runs, 20 otherwise.
    pub fn start_timeout(&self) -> Duration {
        if self.is_build || self.fresh {
            Duration::from_secs(60 * 60)
        } else {
            Duration::from_secs(20 * 60)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(
        is_build: bool,
        is_ephemeral: bool,
        successful_runs: u32,
        ready: bool,
        snapshot: bool,
    ) -> RunFacts {
        RunFacts {
            is_build,
            is_ephemeral,
            successful_runs,
            template_has_ready_build: ready,
            snapshot_exists: snapshot,
            recreate: None,
        }
    }

    /// Every combination: (build, ephemeral, successful runs, ready pre-build, snapshot exists)
    /// -> fresh, restored from snapshot.
    #[rustfmt::skip]
    const TABLE: [(bool, bool, u32, bool, bool, bool, bool); 32] = [
        // persistent, never ran: fresh unless a ready pre-build with a snapshot exists
        (false, false, 0, false, false, true,  false),
        (false, false, 0, false, true,  true,  false),
        (false, false, 0, true,  false, true,  false),
        (false, false, 0, true,  true,  false, true),
        // persistent, ran before: never fresh, never restored
        (false, false, 5, false, false, false, false),
        (false, false, 5, false, true,  false, false),
        (false, false, 5, true,  false, false, false),
        (false, false, 5, true,  true,  false, false),
        // ephemeral, never ran
        (false, true,  0, false, false, true,  false),
        (false, true,  0, false, true,  true,  false),
        (false, true,  0, true,  false, true,  false),
        (false, true,  0, true,  true,  false, true),
        // ephemeral, ran before: every start is fresh unless restored
        (false, true,  5, false, false, true,  false),
        (false, true,  5, false, true,  true,  false),
        (false, true,  5, true,  false, true,  false),
        (false, true,  5, true,  true,  false, true),
        // builds are always fresh and never restored
        (true,  false, 0, false, false, true,  false),
        (true,  false, 0, false, true,  true,  false),
        (true,  false, 0, true,  false, true,  false),
        (true,  false, 0, true,  true,  true,  false),
        (true,  false, 5, false, false, true,  false),
        (true,  false, 5, false, true,  true,  false),
        (true,  false, 5, true,  false, true,  false),
        (true,  false, 5, true,  true,  true,  false),
        (true,  true,  0, false, false, true,  false),
        (true,  true,  0, false, true,  true,  false),
        (true,  true,  0, true,  false, true,  false),
        (true,  true,  0, true,  true,  true,  false),
        (true,  true,  5, false, false, true,  false),
        (true,  true,  5, false, true,  true,  false),
        (true,  true,  5, true,  false, true,  false),
        (true,  true,  5, true,  true,  true,  false),
    ];

    #[test]
    fn the_fresh_run_table() {
        for (build, eph, runs, ready, snap, fresh, restored) in TABLE {
            let f = facts(build, eph, runs, ready, snap);
            assert_eq!(is_fresh_run(&f), fresh, "{f:?}");
            assert_eq!(f.restores_snapshot(), restored, "{f:?}");
            let ctx = RunContext::new(&f);
            assert_eq!(
                (ctx.fresh, ctx.is_build, ctx.from_snapshot),
                (fresh, build, restored),
                "{f:?}"
            );
        }
    }

    #[test]
    fn the_table_covers_every_combination_once() {
        for (i, row) in TABLE.iter().enumerate() {
            let key = |r: &(bool, bool, u32, bool, bool, bool, bool)| (r.0, r.1, r.2, r.3, r.4);
            assert!(
                TABLE[i + 1..].iter().all(|r| key(r) != key(row)),
                "{row:?} twice"
            );
        }
    }

    #[test]
    fn what_a_fresh_run_does() {
        let ctx = RunContext::new(&facts(false, true, 3, false, false));
        assert!(ctx.prepares_image() && ctx.clones_repositories() && ctx.runs_on_create());
        assert!(
            ctx.installs_dotfiles()
                && ctx.runs_background_tasks()
                && ctx.runs_pre_stop()
                && ctx.has_session()
        );
        assert_eq!(ctx.start_timeout(), Duration::from_secs(3600));
    }

    #[test]
    fn what_a_later_persistent_run_does() {
        let ctx = RunContext::new(&facts(false, false, 3, false, false));
        assert!(!ctx.prepares_image() && !ctx.clones_repositories() && !ctx.runs_on_create());
        assert!(!ctx.installs_dotfiles());
        assert!(ctx.runs_background_tasks() && ctx.runs_pre_stop() && ctx.has_session());
        assert_eq!(ctx.start_timeout(), Duration::from_secs(1200));
    }

    #[test]
    fn what_a_run_restored_from_a_pre_build_does() {
        let ctx = RunContext::new(&facts(false, false, 0, true, true));
        assert!(!ctx.prepares_image() && !ctx.clones_repositories() && !ctx.runs_on_create());
        assert!(ctx.installs_dotfiles(), "the build installed none");
        assert!(ctx.runs_background_tasks() && ctx.runs_pre_stop() && ctx.has_session());
    }

    #[test]
    fn what_a_build_does() {
        let ctx = RunContext::new(&facts(true, false, 0, true, true));
        assert!(ctx.prepares_image() && ctx.clones_repositories() && ctx.runs_on_create());
        assert!(
            !ctx.installs_dotfiles()
                && !ctx.runs_background_tasks()
                && !ctx.runs_pre_stop()
                && !ctx.has_session()
        );
        assert_eq!(ctx.start_timeout(), Duration::from_secs(3600));
    }

    #[test]
    fn a_recreated_container_is_a_fresh_run_on_kept_volumes() {
        let ctx = RunContext::new(&RunFacts {
            recreate: Some(Recreate::ImageChanged),
            ..facts(false, false, 3, false, false)
        });
        assert!(ctx.fresh && ctx.prepares_image() && ctx.runs_on_create());
        assert!(!ctx.new_volumes() && !ctx.clones_repositories() && !ctx.installs_dotfiles());
        assert_eq!(ctx.recreate, Some(Recreate::ImageChanged));
        assert_eq!(ctx.start_timeout(), Duration::from_secs(3600));
        let build = RunContext::new(&RunFacts {
            recreate: Some(Recreate::ContainerGone),
            ..facts(true, false, 0, false, false)
        });
        assert!(
            build.new_volumes() && build.recreate.is_none(),
            "a build always starts empty"
        );
    }

    #[test]
    fn dotfiles_follow_upstreams_rule_in_every_combination() {
        for (build, eph, runs, ready, snap, ..) in TABLE {
            let ctx = RunContext::new(&facts(build, eph, runs, ready, snap));
            assert_eq!(
                ctx.installs_dotfiles(),
                !build && (eph || runs == 0),
                "{ctx:?}"
            );
        }
    }
}
