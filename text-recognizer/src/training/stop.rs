//! A request to stop training at the next step boundary, with a checkpoint.
//!
//! Cloud providers send SIGTERM shortly before they take a machine back; a time budget runs out;
//! a person presses Ctrl-C. In each case the run should finish the step it is in, save where it
//! is, and end cleanly. The application turns signals into a [`StopRequest`] (the library does
//! not install signal handlers); the training loop polls it after every optimiser step.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Why a stop was requested.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopReason {
    /// SIGTERM: the machine is going away (preemption, `kill`, a scheduler).
    Terminate,
    /// SIGINT: Ctrl-C.
    Interrupt,
    /// `--max-minutes` ran out.
    TimeLimit,
}

impl StopReason {
    /// The value stored in the shared flag (0 means "no stop").
    pub const fn code(self) -> usize {
        match self {
            StopReason::Terminate => 1,
            StopReason::Interrupt => 2,
            StopReason::TimeLimit => 3,
        }
    }

    fn from_code(code: usize) -> Option<Self> {
        match code {
            1 => Some(StopReason::Terminate),
            2 => Some(StopReason::Interrupt),
            3 => Some(StopReason::TimeLimit),
            _ => None,
        }
    }
}

impl std::fmt::Display for StopReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            StopReason::Terminate => "SIGTERM received",
            StopReason::Interrupt => "interrupted (Ctrl-C)",
            StopReason::TimeLimit => "time limit reached",
        })
    }
}

/// A shared flag: set by a signal handler or a timer, read by the training loop.
#[derive(Clone, Debug, Default)]
pub struct StopRequest {
    code: Arc<AtomicUsize>,
}

impl StopRequest {
    /// No stop requested yet.
    pub fn new() -> Self {
        StopRequest::default()
    }

    /// The flag itself, for `signal_hook::flag::register_usize(signal, flag, reason.code())`.
    pub fn flag(&self) -> Arc<AtomicUsize> {
        self.code.clone()
    }

    /// Asks the run to stop (the first reason wins).
    pub fn request(&self, reason: StopReason) {
        let _ = self
            .code
            .compare_exchange(0, reason.code(), Ordering::SeqCst, Ordering::SeqCst);
    }

    /// Whether, and why, a stop was requested.
    pub fn requested(&self) -> Option<StopReason> {
        StopReason::from_code(self.code.load(Ordering::SeqCst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_reason_wins() {
        let stop = StopRequest::new();
        assert_eq!(stop.requested(), None);
        stop.request(StopReason::TimeLimit);
        stop.request(StopReason::Terminate);
        assert_eq!(stop.requested(), Some(StopReason::TimeLimit));
        stop.flag()
            .store(StopReason::Terminate.code(), Ordering::SeqCst);
        assert_eq!(stop.clone().requested(), Some(StopReason::Terminate));
    }
}
