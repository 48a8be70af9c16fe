//! Properties of the transition table and of plans, over generated inputs.

#![allow(clippy::unwrap_used, reason = "tests")]

use cordium_merge::EffectiveWorkspace;
use cordium_merge::effective::{EffectiveRuntime, EffectiveSpec, Limits, Task};
use cordium_provisioner::state::TRANSITIONS;
use cordium_provisioner::{
    Cause, Failure, RunContext, State, StateMachine, can_fail, can_move, plan,
};
use cordium_spec::{OnFailure, TaskType};
use proptest::prelude::*;

fn failure() -> impl Strategy<Value = Failure> {
    prop_oneof![
        Just(Failure::ImagePull),
        Just(Failure::ImageBuild),
        proptest::option::of("[a-z]{1,6}")
            .prop_map(|additional| Failure::RepositoryClone { additional }),
        ("[a-z]{1,6}", any::<i32>())
            .prop_map(|(name, exit_code)| Failure::Task { name, exit_code }),
        Just(Failure::HealthCheck),
        Just(Failure::StartupTimeout),
        Just(Failure::RunContainer),
        Just(Failure::Unknown),
    ]
}

/// A task description: phase, background, on failure.
fn task_spec() -> impl Strategy<Value = (Option<TaskType>, bool, Option<OnFailure>)> {
    (
        prop_oneof![
            Just(TaskType::OnCreate),
            Just(TaskType::PostStart),
            Just(TaskType::PreStop)
        ]
        .prop_map(Some),
        any::<bool>(),
        proptest::option::of(prop_oneof![
            Just(OnFailure::Unset),
            Just(OnFailure::Abort),
            Just(OnFailure::Continue)
        ]),
    )
}

fn workspace(tasks: &[(Option<TaskType>, bool, Option<OnFailure>)]) -> EffectiveWorkspace {
    let tasks = tasks
        .iter()
        .enumerate()
        .filter_map(|(i, (phase, background, on_failure))| {
            Some(Task {
                name: Some(format!("t{i}")),
                run: format!("echo {i}"),
                task_type: (*phase)?,
                env_vars: None,
                working_dir: None,
                is_background: Some(*background),
                on_failure: *on_failure,
                run_as_root: None,
            })
        })
        .collect();
    EffectiveWorkspace {
        api_version: "cordium/v1".into(),
        kind: "EffectiveWorkspace".into(),
        metadata: cordium_merge::EffectiveMetadata {
            name: "ws".into(),
            space: None,
            template: None,
        },
        spec: EffectiveSpec {
            image: None,
            repository: None,
            additional_repositories: None,
            applications: None,
            is_ephemeral: false,
            limit: Limits {
                cpu_millicores: 2000,
                memory_megabytes: 6000,
                storage_megabytes: 20000,
            },
            runtime: EffectiveRuntime {
                tasks,
                ..EffectiveRuntime::default()
            },
            dotfiles: None,
            git_provider: None,
            vars: Vec::new(),
        },
        notes: Vec::new(),
    }
}

fn context() -> impl Strategy<Value = RunContext> {
    (any::<bool>(), any::<bool>(), any::<bool>()).prop_map(|(fresh, is_build, from_snapshot)| {
        RunContext {
            fresh,
            is_build,
            from_snapshot,
            recreate: None,
        }
    })
}

fn index(name: &str) -> usize {
    name.trim_start_matches('t').parse().unwrap()
}

proptest! {
    /// Every walk of legal moves from STOPPED that gets back to STOPPED passed through
    /// STOPPING or a failure on the way.
    #[test]
    fn every_way_back_to_stopped_passes_stopping_or_a_failure(
        choices in proptest::collection::vec((any::<prop::sample::Index>(), failure()), 1..60)
    ) {
        let mut machine = StateMachine::new();
        let mut stopping_or_failure = false;
        for (pick, failure) in choices {
            let from = machine.state();
            let out: Vec<_> = TRANSITIONS.iter().filter(|t| t.from == from).collect();
            prop_assert!(!out.is_empty(), "{from} is a dead end");
            let t = out[pick.index(out.len())];
            match t.cause {
                Cause::Progress => { machine.advance(t.to).unwrap(); }
                Cause::Failure => {
                    machine.fail(failure.clone(), t.to).unwrap();
                    prop_assert_eq!(machine.failure(), Some(&failure));
                    stopping_or_failure = true;
                }
            }
            if t.to == State::Stopping {
                stopping_or_failure = true;
            }
            if t.to == State::Stopped {
                prop_assert!(stopping_or_failure, "reached STOPPED from {} without STOPPING or a failure", from);
                stopping_or_failure = false;
            }
        }
    }

    /// The machine accepts exactly the table's moves and names both states when it refuses.
    #[test]
    fn the_machine_follows_the_table(
        from in proptest::sample::select(State::ALL.to_vec()),
        to in proptest::sample::select(State::ALL.to_vec()),
        failure in failure(),
    ) {
        let mut m = StateMachine::at(from);
        match m.advance(to) {
            Ok(s) => { prop_assert!(can_move(from, to)); prop_assert_eq!(s, to); }
            Err(e) => {
                prop_assert!(!can_move(from, to));
                prop_assert_eq!(m.state(), from);
                let text = e.to_string();
                prop_assert!(text.contains(from.as_str()) && text.contains(to.as_str()), "{}", text);
            }
        }
        let mut m = StateMachine::at(from);
        prop_assert_eq!(m.fail(failure, to).is_ok(), can_fail(from, to));
        prop_assert!(!can_fail(from, to) || to == State::Stopping || to == State::Stopped);
    }

    /// A run that is not fresh never plans an ON_CREATE task.
    #[test]
    fn no_on_create_tasks_unless_fresh(
        tasks in proptest::collection::vec(task_spec(), 0..24),
        ctx in context(),
    ) {
        let p = plan(&workspace(&tasks), &ctx).unwrap();
        let on_create = p.start.tasks.iter().filter(|t| t.phase == TaskType::OnCreate).count();
        if !ctx.fresh {
            prop_assert_eq!(on_create, 0);
        } else {
            let expected = tasks.iter().filter(|(ph, bg, _)| *ph == Some(TaskType::OnCreate) && (!ctx.is_build || !bg)).count();
            prop_assert_eq!(on_create, expected);
        }
        prop_assert!(p.start.tasks.iter().all(|t| t.phase != TaskType::PreStop));
        prop_assert!(p.stop.pre_stop.iter().all(|t| t.phase == TaskType::PreStop));
        if ctx.is_build {
            prop_assert!(p.stop.pre_stop.is_empty());
            prop_assert!(p.start.tasks.iter().all(|t| !t.background));
        }
    }

    /// Within each phase the plan keeps the compiled order, and ON_CREATE comes before
    /// POST_START.
    #[test]
    fn task_order_is_compiled_order_within_each_phase(
        tasks in proptest::collection::vec(task_spec(), 0..24),
        ctx in context(),
    ) {
        let p = plan(&workspace(&tasks), &ctx).unwrap();
        for list in [&p.start.tasks, &p.stop.pre_stop] {
            for phase in [TaskType::OnCreate, TaskType::PostStart, TaskType::PreStop] {
                let planned: Vec<usize> = list.iter().filter(|t| t.phase == phase).map(|t| index(&t.name)).collect();
                prop_assert!(planned.windows(2).all(|w| w[0] < w[1]), "{:?}", planned);
            }
        }
        let first_post = p.start.tasks.iter().position(|t| t.phase == TaskType::PostStart);
        let last_create = p.start.tasks.iter().rposition(|t| t.phase == TaskType::OnCreate);
        if let (Some(post), Some(create)) = (first_post, last_create) {
            prop_assert!(create < post);
        }
        // Nothing is dropped but what the context skips.
        let kept = tasks.iter().filter(|(ph, bg, _)| {
            let runs_phase = match ph {
                Some(TaskType::OnCreate) => ctx.fresh,
                Some(TaskType::PostStart) => true,
                _ => false,
            };
            runs_phase && (!ctx.is_build || !bg)
        }).count();
        prop_assert_eq!(p.start.tasks.len(), kept);
    }

    /// Only ON_FAILURE_ABORT aborts, and only on a non-zero exit.
    #[test]
    fn only_abort_tasks_abort(task in task_spec(), exit_code in any::<i32>()) {
        let p = plan(&workspace(&[task]), &RunContext { fresh: true, ..RunContext::default() }).unwrap();
        let all = p.start.tasks.iter().chain(&p.stop.pre_stop);
        for t in all {
            let outcome = cordium_provisioner::task_outcome(t, exit_code);
            let aborts = task.2 == Some(OnFailure::Abort) && exit_code != 0;
            prop_assert_eq!(
                outcome,
                if aborts {
                    cordium_provisioner::TaskOutcome::Abort(Failure::Task { name: t.name.clone(), exit_code })
                } else {
                    cordium_provisioner::TaskOutcome::Continue
                }
            );
        }
    }
}
