//! What the server logs at WARN and ERROR, recorded for the tests (the harness prints no log):
//! an ERROR means the server met something it did not expect, so a test of a normal failure can
//! ask that none was logged about its workspace; the warnings are for a failing test's message
//! (a background command that failed, a signal that could not be sent), which says what the
//! server saw when the test's wait ran out.
//!
//! One recorder serves the whole test binary (a global subscriber), so tests running side by
//! side each read the events about their own workspace, by its `workspace` field (names are
//! random and a test's own).

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::sync::{Mutex, OnceLock};
use tracing::field::{Field, Visit};
use tracing_subscriber::layer::SubscriberExt as _;

/// The most events kept; past it the oldest are dropped (a test reads its own at once).
const KEPT: usize = 4096;

/// One recorded event.
struct Recorded {
    level: tracing::Level,
    workspace: String,
    text: String,
}

/// WARN and ERROR events, oldest first.
static EVENTS: Mutex<VecDeque<Recorded>> = Mutex::new(VecDeque::new());

fn events() -> std::sync::MutexGuard<'static, VecDeque<Recorded>> {
    EVENTS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Starts recording, once per test binary. Call it before the server under test starts.
pub fn record() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        let subscriber = tracing_subscriber::registry().with(Recorder);
        // Another subscriber already set (none is, in this binary) would leave this one unused:
        // then `errors_about` finds nothing, and the tests asserting an ERROR fail loudly.
        let _ = tracing::subscriber::set_global_default(subscriber);
    });
}

/// The ERROR events logged so far whose `workspace` field is `workspace`.
pub fn errors_about(workspace: &str) -> Vec<String> {
    events()
        .iter()
        .filter(|e| e.level == tracing::Level::ERROR && e.workspace == workspace)
        .map(|e| e.text.clone())
        .collect()
}

/// The last `n` WARN and ERROR events of the whole binary, one per line, for a failing test's
/// message (tests run side by side, so some may be another test's).
pub fn recent(n: usize) -> String {
    let events = events();
    let skip = events.len().saturating_sub(n);
    events
        .iter()
        .skip(skip)
        .map(|e| format!("{} {}\n", e.level, e.text))
        .collect()
}

struct Recorder;

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Recorder {
    fn enabled(
        &self,
        metadata: &tracing::Metadata<'_>,
        _: tracing_subscriber::layer::Context<'_, S>,
    ) -> bool {
        *metadata.level() <= tracing::Level::WARN
    }

    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let mut events = events();
        if events.len() >= KEPT {
            events.pop_front();
        }
        events.push_back(Recorded {
            level: *event.metadata().level(),
            workspace: fields.workspace,
            text: fields.text,
        });
    }
}

/// An event's `workspace` field and all its fields as text.
#[derive(Default)]
struct Fields {
    workspace: String,
    text: String,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "workspace" {
            self.workspace = value.to_owned();
        }
        let _ = write!(self.text, "{}={value} ", field.name());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let shown = format!("{value:?}");
        if field.name() == "workspace" {
            self.workspace = shown.trim_matches('"').to_owned();
        }
        let _ = write!(self.text, "{}={shown} ", field.name());
    }
}

/// The recorder sees an ERROR about a workspace; a warning is no error, but is recent.
#[test]
fn errors_are_recorded_by_workspace() {
    record();
    tracing::error!(workspace = "logged-test-ws", "something unexpected");
    tracing::warn!(workspace = "logged-test-ws", "only a warning");
    let name = String::from("logged-test-ws2");
    tracing::error!(workspace = %name, "displayed");
    assert_eq!(errors_about("logged-test-ws").len(), 1);
    assert!(errors_about("logged-test-ws")[0].contains("something unexpected"));
    assert_eq!(errors_about("logged-test-ws2").len(), 1);
    assert!(
        recent(KEPT).contains("WARN message=only a warning"),
        "{}",
        recent(KEPT)
    );
    tracing::info!(workspace = "logged-test-ws", "only news");
    assert!(!recent(KEPT).contains("only news"));
}
