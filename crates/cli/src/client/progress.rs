//! Progress lines for a workspace moving through its lifecycle states, on standard error.
//!
//! - **Live** (standard error is a terminal, and `TERM` is not `dumb`): one line redrawn in
//!   place with `\r` about ten times a second, `⠹ Pulling image 1.2s` (a spinner frame, the
//!   state in words, the time spent in it). When the state changes, the line is finished as
//!   `✓ Pulling image 1.2s` (or `✗ ...` when the failure showed up in it) and a new one starts.
//!   Lines are cleared by overwriting with spaces, not escape sequences, so they also work
//!   with `NO_COLOR` (which only drops the colours).
//! - **Plain** (piped): one line per state as it is entered, `[  0.4s] PULLING_IMAGE` (the
//!   time since the command started, and the state's API name), and nothing else: no colours,
//!   no `\r`.
//!
//! The rendering functions are pure (state, elapsed time, frame) so they are tested directly.

use crate::output::Output;
use anstyle::{AnsiColor, Style};
use cordium_api as pb;
use std::time::{Duration, Instant};

/// The spinner's frames.
const FRAMES: [char; 10] = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

/// How often the live line is redrawn.
pub(super) const TICK: Duration = Duration::from_millis(100);

/// A state in words, as the live line shows it.
pub(super) fn label(state: i32) -> &'static str {
    use pb::WorkspaceState as S;
    match S::try_from(state).unwrap_or(S::StateUnknown) {
        S::StateUnknown => "Unknown state",
        S::InitRequest => "Waiting for the server",
        S::Initializing => "Initializing",
        S::PullingImage => "Pulling image",
        S::BuildingImage => "Building image",
        S::StartingRuntime => "Starting container",
        S::Preparing => "Preparing (repositories, tasks)",
        S::Running => "Running",
        S::StoppingRequest => "Stop requested",
        S::Stopping => "Stopping",
        S::Stopped => "Stopped",
    }
}

/// A duration as people read it: `0.4s`, `12.3s`, `2m05s`.
pub(super) fn seconds(elapsed: Duration) -> String {
    let tenths = elapsed.as_millis() / 100;
    if tenths < 600 {
        format!("{}.{}s", tenths / 10, tenths % 10)
    } else {
        let secs = elapsed.as_secs();
        format!("{}m{:02}s", secs / 60, secs % 60)
    }
}

fn paint(style: Style, text: &str) -> String {
    format!("{}{text}{}", style.render(), style.render_reset())
}

fn dim(text: &str) -> String {
    paint(Style::new().dimmed(), text)
}

/// The live line of a state: `⠹ Pulling image 1.2s`.
pub(super) fn live_line(state: i32, elapsed: Duration, frame: usize) -> String {
    let spinner = FRAMES[frame % FRAMES.len()].to_string();
    format!(
        "{} {} {}",
        paint(AnsiColor::Cyan.on_default(), &spinner),
        label(state),
        dim(&seconds(elapsed))
    )
}

/// The line a state leaves when it is over: `✓ Pulling image 1.2s`, or `✗ ...` when it
/// failed; without a time for a state that ends the follow (`✓ Running`).
pub(super) fn done_line(state: i32, elapsed: Option<Duration>, ok: bool) -> String {
    let mark = if ok {
        paint(AnsiColor::Green.on_default().bold(), "✓")
    } else {
        paint(AnsiColor::Red.on_default().bold(), "✗")
    };
    match elapsed {
        Some(e) => format!("{mark} {} {}", label(state), dim(&seconds(e))),
        None => format!("{mark} {}", label(state)),
    }
}

/// The plain line of a state entered `since` the command started: `[  0.4s] PULLING_IMAGE`.
pub(super) fn plain_line(state: i32, since: Duration) -> String {
    format!("[{:>6}] {}", seconds(since), super::wire::state_name(state))
}

/// How many columns a line takes on the terminal (escape sequences take none).
fn width(line: &str) -> usize {
    anstream::adapter::strip_str(line)
        .to_string()
        .chars()
        .count()
}

/// Progress of one workspace. See the [module docs](self).
pub(super) struct Progress {
    live: bool,
    started: Instant,
    /// The state being shown, and when it was entered.
    current: Option<(i32, Instant)>,
    frame: usize,
    /// Columns of the live line on screen, to clear it.
    drawn: usize,
    /// The state whose line ended with a failure: entering it again draws nothing.
    failed: Option<i32>,
}

impl Progress {
    /// Live progress when standard error is a terminal, plain lines otherwise.
    pub(super) fn for_stderr() -> Self {
        use std::io::IsTerminal as _;
        let dumb = std::env::var_os("TERM").is_some_and(|t| t == "dumb");
        Self::new(std::io::stderr().is_terminal() && !dumb)
    }

    /// Live (`true`) or plain progress, timed from now.
    pub(super) fn new(live: bool) -> Self {
        Self {
            live,
            started: Instant::now(),
            current: None,
            frame: 0,
            drawn: 0,
            failed: None,
        }
    }

    /// Whether the line is redrawn (the caller then calls [`Self::tick`] every [`TICK`]).
    pub(super) fn is_live(&self) -> bool {
        self.live
    }

    /// Time since the command started.
    pub(super) fn total(&self) -> Duration {
        self.started.elapsed()
    }

    fn clear(&mut self, out: &mut Output) {
        if self.live && self.drawn > 0 {
            out.err(&format!("\r{}\r", " ".repeat(self.drawn)));
            self.drawn = 0;
        }
    }

    fn draw(&mut self, out: &mut Output) {
        if let (true, Some((state, since))) = (self.live, self.current) {
            let line = live_line(state, since.elapsed(), self.frame);
            let columns = width(&line);
            let pad = self.drawn.saturating_sub(columns);
            out.err(&format!("\r{line}{}", " ".repeat(pad)));
            self.drawn = columns;
        }
    }

    /// Ends the current state's line with its mark and time (live only).
    fn close(&mut self, out: &mut Output, ok: bool) {
        if let (true, Some((state, since))) = (self.live, self.current.take()) {
            let line = done_line(state, Some(since.elapsed()), ok);
            self.clear(out);
            out.err(&format!("{line}\n"));
        }
        self.current = None;
    }

    /// A line of information: `[  0.0s] TEXT` when plain, the text above the live line when
    /// live.
    pub(super) fn note(&mut self, out: &mut Output, text: &str) {
        let text = crate::output::visible(text);
        if self.live {
            self.clear(out);
            out.err(&format!("{text}\n"));
            self.draw(out);
        } else {
            out.err(&format!("[{:>6}] {text}\n", seconds(self.total())));
        }
    }

    /// The workspace entered `state` (nothing happens if it is the one shown).
    pub(super) fn enter(&mut self, out: &mut Output, state: i32) {
        if self.current.is_some_and(|(s, _)| s == state) || self.failed == Some(state) {
            return;
        }
        self.failed = None;
        if self.live {
            self.close(out, true);
        } else {
            out.err(&(plain_line(state, self.total()) + "\n"));
        }
        self.current = Some((state, Instant::now()));
        self.draw(out);
    }

    /// The run failed in the state shown: live, its line ends with `✗`; plain, a line
    /// `[  2.1s] failed: SUMMARY`.
    pub(super) fn fail(&mut self, out: &mut Output, summary: &str) {
        let summary = crate::output::visible(summary);
        if self.live {
            self.failed = self.current.map(|(state, _)| state);
            self.close(out, false);
        } else {
            out.err(&format!(
                "[{:>6}] failed: {summary}\n",
                seconds(self.total())
            ));
        }
    }

    /// The follow ends in the state shown: live, its line becomes `✓ STATE` (no time).
    pub(super) fn settle(&mut self, out: &mut Output) {
        if let (true, Some((state, _))) = (self.live, self.current.take()) {
            self.clear(out);
            out.err(&(done_line(state, None, true) + "\n"));
        }
        self.current = None;
    }

    /// The follow is abandoned (Ctrl-C, an error): live, the line is left as it is and ended.
    pub(super) fn abandon(&mut self, out: &mut Output) {
        if self.live && self.drawn > 0 {
            out.err("\n");
            self.drawn = 0;
        }
        self.current = None;
    }

    /// Redraws the live line with the next spinner frame.
    pub(super) fn tick(&mut self, out: &mut Output) {
        if self.live {
            self.frame = self.frame.wrapping_add(1);
            self.draw(out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pb::WorkspaceState as S;

    fn plain(text: &str) -> String {
        anstream::adapter::strip_str(text).to_string()
    }

    #[test]
    fn durations() {
        assert_eq!(seconds(Duration::from_millis(0)), "0.0s");
        assert_eq!(seconds(Duration::from_millis(449)), "0.4s");
        assert_eq!(seconds(Duration::from_millis(12_345)), "12.3s");
        assert_eq!(seconds(Duration::from_millis(59_999)), "59.9s");
        assert_eq!(seconds(Duration::from_secs(125)), "2m05s");
    }

    #[test]
    fn live_lines_show_a_frame_the_state_in_words_and_its_time() {
        let pulling = S::PullingImage as i32;
        assert_eq!(
            plain(&live_line(pulling, Duration::from_millis(1234), 0)),
            "⠋ Pulling image 1.2s"
        );
        assert_eq!(
            plain(&live_line(pulling, Duration::from_millis(1234), 12)),
            "⠹ Pulling image 1.2s"
        );
        assert_eq!(
            plain(&live_line(S::Preparing as i32, Duration::from_secs(61), 3)),
            "⠸ Preparing (repositories, tasks) 1m01s"
        );
        let coloured = live_line(pulling, Duration::ZERO, 0);
        assert!(coloured.contains("\u{1b}["), "{coloured:?}");
        assert_eq!(width(&coloured), "⠋ Pulling image 0.0s".chars().count());
    }

    #[test]
    fn finished_states_leave_a_mark() {
        let d = Some(Duration::from_millis(800));
        assert_eq!(
            plain(&done_line(S::StartingRuntime as i32, d, true)),
            "✓ Starting container 0.8s"
        );
        assert_eq!(
            plain(&done_line(S::Preparing as i32, d, false)),
            "✗ Preparing (repositories, tasks) 0.8s"
        );
        assert_eq!(
            plain(&done_line(S::Running as i32, None, true)),
            "✓ Running"
        );
    }

    #[test]
    fn plain_lines_have_no_escapes() {
        assert_eq!(
            plain_line(S::PullingImage as i32, Duration::from_millis(400)),
            "[  0.4s] PULLING_IMAGE"
        );
        assert_eq!(
            plain_line(S::Running as i32, Duration::from_millis(123_400)),
            "[ 2m03s] RUNNING"
        );
        assert_eq!(plain_line(42, Duration::ZERO), "[  0.0s] STATE_UNKNOWN");
        assert_eq!(label(42), "Unknown state");
    }
}
