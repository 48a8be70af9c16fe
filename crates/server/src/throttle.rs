//! Warnings a client can make the server repeat at will (a refused call, a cap reached) are
//! logged at most once per interval, with a count of those left out: an attack would
//! otherwise flood the log it is meant to show up in, and fill the disk under it.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// One kind of warning's last logging and the occurrences left out since.
#[derive(Debug)]
pub(crate) struct Throttle {
    interval: Duration,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    last: Option<Instant>,
    left_out: u64,
}

impl Throttle {
    /// A throttle logging at most once per `interval`.
    pub(crate) const fn new(interval: Duration) -> Self {
        Self {
            interval,
            state: Mutex::new(State {
                last: None,
                left_out: 0,
            }),
        }
    }

    /// Counts one occurrence, and calls `log` with the number left out since the last logged
    /// one when a whole interval has passed since it (or none was logged yet).
    pub(crate) fn warn(&self, log: impl FnOnce(u64)) {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if state.last.is_some_and(|at| at.elapsed() < self.interval) {
            state.left_out += 1;
            return;
        }
        let left_out = std::mem::take(&mut state.left_out);
        state.last = Some(Instant::now());
        drop(state);
        log(left_out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_warning_per_interval_and_the_rest_counted() {
        let throttle = Throttle::new(Duration::from_millis(200));
        let mut logged = Vec::new();
        for _ in 0..5 {
            throttle.warn(|left_out| logged.push(left_out));
        }
        assert_eq!(logged, [0], "the first is logged, the next four left out");
        std::thread::sleep(Duration::from_millis(250));
        throttle.warn(|left_out| logged.push(left_out));
        assert_eq!(
            logged,
            [0, 4],
            "after the interval: logged, with the four left out"
        );
        throttle.warn(|left_out| logged.push(left_out));
        assert_eq!(logged, [0, 4]);
    }
}
