//! Restart policy of the supervisor (sans-IO).
//!
//! SoftEther's watchdog (`UnixService`, `src/Mayaqua/Unix.c`) restarts a
//! worker killed by a signal after a fixed 100 ms, forever, and ends on any
//! normal exit. Ours restarts after a signal death *or* a non-zero exit,
//! at once (the listening sockets stay open in the supervisor, so there is
//! nothing to wait for), and backs off when the worker crash-loops:
//! from the [`CRASH_LOOP_COUNT`]-th abnormal end within [`CRASH_LOOP_WINDOW`],
//! the delay is 1 s, doubling per further crash, capped at [`MAX_DELAY`].

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Crashes within [`CRASH_LOOP_WINDOW`] from which on the supervisor backs off.
pub const CRASH_LOOP_COUNT: usize = 5;
/// Window for counting crashes.
pub const CRASH_LOOP_WINDOW: Duration = Duration::from_secs(60);
/// Longest back-off delay.
pub const MAX_DELAY: Duration = Duration::from_secs(10);

/// How a worker ended, from `waitpid`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkerEnd {
    /// `exit(code)`.
    Exited(i32),
    /// Killed by signal number `n`.
    Signaled(i32),
}

impl WorkerEnd {
    /// Abnormal = killed by a signal or a non-zero exit status.
    pub fn is_abnormal(self) -> bool {
        !matches!(self, WorkerEnd::Exited(0))
    }
}

/// Counts recent crashes and gives the delay before the next start.
#[derive(Debug, Default)]
pub struct RestartPolicy {
    crashes: VecDeque<Instant>,
}

impl RestartPolicy {
    /// Records an abnormal end at `now`; returns the delay before restarting.
    pub fn on_crash(&mut self, now: Instant) -> Duration {
        while let Some(&t) = self.crashes.front() {
            if now.duration_since(t) > CRASH_LOOP_WINDOW {
                self.crashes.pop_front();
            } else {
                break;
            }
        }
        self.crashes.push_back(now);
        let n = self.crashes.len();
        if n < CRASH_LOOP_COUNT {
            return Duration::ZERO;
        }
        let exp = (n - CRASH_LOOP_COUNT).min(8) as u32;
        Duration::from_secs(1u64 << exp).min(MAX_DELAY)
    }

    /// Crashes counted in the current window.
    pub fn recent_crashes(&self) -> usize {
        self.crashes.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn abnormal() {
        assert!(!WorkerEnd::Exited(0).is_abnormal());
        assert!(WorkerEnd::Exited(1).is_abnormal());
        assert!(WorkerEnd::Signaled(9).is_abnormal());
    }

    #[test]
    fn immediate_then_backoff_then_cap() {
        let mut p = RestartPolicy::default();
        let t0 = Instant::now();
        let d: Vec<u64> = (0..10)
            .map(|i| p.on_crash(t0 + Duration::from_secs(i)).as_secs())
            .collect();
        assert_eq!(d, vec![0, 0, 0, 0, 1, 2, 4, 8, 10, 10]);
    }

    #[test]
    fn window_forgets_old_crashes() {
        let mut p = RestartPolicy::default();
        let t0 = Instant::now();
        for i in 0..4 {
            assert_eq!(p.on_crash(t0 + Duration::from_secs(i)), Duration::ZERO);
        }
        // 70 s later the first four are outside the 60 s window.
        assert_eq!(p.on_crash(t0 + Duration::from_secs(70)), Duration::ZERO);
        assert_eq!(p.recent_crashes(), 1);
    }
}
