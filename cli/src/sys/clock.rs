//! The daemon's clock: `CLOCK_REALTIME`, and sleeping until an absolute time of it while
//! noticing clock steps at once. A timerfd armed with `TFD_TIMER_ABSTIME |
//! TFD_TIMER_CANCEL_ON_SET` wakes up early (read fails with `ECANCELED`) when the realtime
//! clock is set, in either direction; a comparison with `CLOCK_MONOTONIC` catches a step that
//! happened while the timer was not armed.
//!
//! Testing hook, debug builds only: with `KEYWHEEL_FAKE_NOW_FILE=PATH` in the environment,
//! "now" is the decimal unix time in PATH, re-read every 50 ms while sleeping; a time lower
//! than the last one read counts as a clock step. Release builds refuse to start with it set.

use std::os::fd::AsFd;
use std::path::PathBuf;
use std::time::Duration;

use keywheel::{MAX_TIME, MIN_TIME};
use nix::errno::Errno;
use nix::sys::time::TimeSpec;
use nix::sys::timerfd::{
    ClockId as TimerClock, Expiration, TimerFd, TimerFlags, TimerSetTimeFlags,
};
use nix::time::{ClockId, clock_gettime};

use crate::sys::os::strerror;

/// The environment variable of the testing hook.
pub(crate) const FAKE_NOW_ENV: &str = "KEYWHEEL_FAKE_NOW_FILE";

/// A realtime clock that drifts from the monotonic clock by more than this since the last
/// reading has been stepped.
const STEP_THRESHOLD_NANOS: i128 = 1_000_000_000;

/// How a sleep ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Woke {
    /// The wake time was reached.
    Time,
    /// The realtime clock was set (stepped) before the wake time was reached, or since the last
    /// reading.
    ClockStep,
}

/// The clock.
pub(crate) struct Clock {
    source: Source,
}

enum Source {
    Real {
        timer: TimerFd,
        /// (realtime, monotonic) in nanoseconds at the last reading.
        last: Option<(i128, i128)>,
    },
    Fake {
        path: PathBuf,
        last: Option<u64>,
    },
}

fn errno_text(e: Errno) -> String {
    strerror(&std::io::Error::from(e))
}

fn nanos(clock: ClockId) -> Result<i128, String> {
    let t =
        clock_gettime(clock).map_err(|e| format!("clock_gettime() failed: {}", errno_text(e)))?;
    Ok(i128::from(t.tv_sec()) * 1_000_000_000 + i128::from(t.tv_nsec()))
}

/// What arming the timer says. `ECANCELED`: the realtime clock was set since the timer was
/// last armed and that was not read yet (timerfd_create(2), NOTES) — seen when a virtual
/// machine was restored from a snapshot, which killed every daemon of a fleet run before this
/// was handled. The kernel has armed the timer anyway; it is a clock step like any other.
fn arm_result(armed: nix::Result<()>) -> Result<Option<Woke>, String> {
    match armed {
        Ok(()) => Ok(None),
        Err(Errno::ECANCELED) => Ok(Some(Woke::ClockStep)),
        Err(e) => Err(format!("timerfd_settime() failed: {}", errno_text(e))),
    }
}

fn check_range(secs: i128) -> Result<u64, String> {
    match u64::try_from(secs) {
        Ok(s) if (MIN_TIME..=MAX_TIME).contains(&s) => Ok(s),
        _ => Err(format!("Bad wall clock unix time {secs}")),
    }
}

impl Clock {
    /// The real clock, or the fake one when the testing hook is set (debug builds).
    pub(crate) fn new() -> Result<Clock, String> {
        if let Some(path) = std::env::var_os(FAKE_NOW_ENV) {
            if cfg!(debug_assertions) {
                return Ok(Clock {
                    source: Source::Fake {
                        path: PathBuf::from(path),
                        last: None,
                    },
                });
            }
            return Err(format!(
                "{FAKE_NOW_ENV} is a testing hook of debug builds; unset it"
            ));
        }
        let timer = TimerFd::new(TimerClock::CLOCK_REALTIME, TimerFlags::TFD_CLOEXEC)
            .map_err(|e| format!("timerfd_create(CLOCK_REALTIME) failed: {}", errno_text(e)))?;
        Ok(Clock {
            source: Source::Real { timer, last: None },
        })
    }

    /// Now, in whole unix seconds and nanoseconds, checked to be in `MIN_TIME..=MAX_TIME`.
    pub(crate) fn now_precise(&mut self) -> Result<(u64, u32), String> {
        match &mut self.source {
            Source::Real { last, .. } => {
                let real = nanos(ClockId::CLOCK_REALTIME)?;
                let mono = nanos(ClockId::CLOCK_MONOTONIC)?;
                *last = Some((real, mono));
                let secs = check_range(real.div_euclid(1_000_000_000))?;
                let sub = u32::try_from(real.rem_euclid(1_000_000_000)).unwrap_or(0);
                Ok((secs, sub))
            }
            Source::Fake { path, last } => {
                let t = read_fake(path)?;
                *last = Some(t);
                Ok((t, 0))
            }
        }
    }

    /// Now, in whole unix seconds.
    pub(crate) fn now(&mut self) -> Result<u64, String> {
        self.now_precise().map(|(s, _)| s)
    }

    /// Sleeps until the absolute realtime `(secs, nanos)`, or until the clock is stepped.
    pub(crate) fn sleep_until(&mut self, secs: u64, nanos_part: u32) -> Result<Woke, String> {
        match &mut self.source {
            Source::Real { timer, last } => {
                let stepped_meanwhile = match *last {
                    Some(l) => drifted(l)?,
                    None => false,
                };
                if stepped_meanwhile {
                    return Ok(Woke::ClockStep);
                }
                let at = TimeSpec::new(
                    i64::try_from(secs).unwrap_or(i64::MAX),
                    i64::from(nanos_part),
                );
                let armed = timer.set(
                    Expiration::OneShot(at),
                    TimerSetTimeFlags::TFD_TIMER_ABSTIME
                        | TimerSetTimeFlags::TFD_TIMER_CANCEL_ON_SET,
                );
                if let Some(woke) = arm_result(armed)? {
                    return Ok(woke);
                }
                let mut buf = [0u8; 8];
                loop {
                    match nix::unistd::read(timer.as_fd(), &mut buf) {
                        Ok(_) => break,
                        Err(Errno::EINTR) => {}
                        Err(Errno::ECANCELED) => return Ok(Woke::ClockStep),
                        Err(e) => {
                            return Err(format!("read(timerfd) failed: {}", errno_text(e)));
                        }
                    }
                }
                // A step between arming and expiry that the kernel did not report (it does),
                // or one just before arming: compare with the monotonic clock.
                match *last {
                    Some(l) if drifted(l)? => Ok(Woke::ClockStep),
                    _ => Ok(Woke::Time),
                }
            }
            Source::Fake { path, last } => loop {
                // The test may be replacing the file: try again at the next poll.
                let Ok(t) = read_fake(path) else {
                    std::thread::sleep(Duration::from_millis(50));
                    continue;
                };
                if last.is_some_and(|l| t < l) {
                    *last = Some(t);
                    return Ok(Woke::ClockStep);
                }
                *last = Some(t);
                if (t, 0) >= (secs, nanos_part) {
                    return Ok(Woke::Time);
                }
                std::thread::sleep(Duration::from_millis(50));
            },
        }
    }
}

/// Whether realtime moved by more than [`STEP_THRESHOLD_NANOS`] more or less than the monotonic
/// clock since `(real, mono)`.
fn drifted((real0, mono0): (i128, i128)) -> Result<bool, String> {
    let real = nanos(ClockId::CLOCK_REALTIME)?;
    let mono = nanos(ClockId::CLOCK_MONOTONIC)?;
    Ok(((real - real0) - (mono - mono0)).abs() > STEP_THRESHOLD_NANOS)
}

fn read_fake(path: &std::path::Path) -> Result<u64, String> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        format!(
            "cannot read the fake time file {} ({FAKE_NOW_ENV}): {}",
            path.display(),
            strerror(&e)
        )
    })?;
    let t: u64 = text.trim().parse().map_err(|_| {
        format!(
            "the fake time file {} ({FAKE_NOW_ENV}) does not hold a unix time: {:?}",
            path.display(),
            text.trim()
        )
    })?;
    check_range(i128::from(t))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_clock_set_reported_when_arming_is_a_clock_step() {
        assert_eq!(arm_result(Ok(())), Ok(None));
        assert_eq!(arm_result(Err(Errno::ECANCELED)), Ok(Some(Woke::ClockStep)));
        let e = arm_result(Err(Errno::EINVAL)).unwrap_err();
        assert!(e.starts_with("timerfd_settime() failed: "), "{e}");
    }
}
