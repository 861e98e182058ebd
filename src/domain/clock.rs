//! Time comes from here so tests can step it. `Durations` applies `--time-scale`, which
//! shortens engine waits (code expiry, lockouts, later stage lengths) but never the wall-clock
//! timestamps the API returns.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

pub trait Clock: Send + Sync {
    fn now_ms(&self) -> i64;
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0)
    }
}

/// A clock that only moves when told to.
#[derive(Debug, Default)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    pub fn new(start_ms: i64) -> Arc<Self> {
        Arc::new(ManualClock(AtomicI64::new(start_ms)))
    }
    pub fn advance_ms(&self, ms: i64) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }
    pub fn set_ms(&self, ms: i64) {
        self.0.store(ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Durations {
    pub time_scale: f64,
}

impl Durations {
    /// A nominal duration in seconds, shortened by the time scale, in milliseconds (at least 1).
    pub fn scaled_ms(&self, nominal_secs: i64) -> i64 {
        (((nominal_secs as f64) * 1000.0 / self.time_scale).round() as i64).max(1)
    }

    /// A nominal duration in milliseconds, shortened by the time scale (at least 1).
    pub fn scale_ms(&self, nominal_ms: i64) -> i64 {
        ((nominal_ms as f64 / self.time_scale).round() as i64).max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_scale_divides_durations() {
        assert_eq!(Durations { time_scale: 1.0 }.scaled_ms(60), 60_000);
        assert_eq!(Durations { time_scale: 60.0 }.scaled_ms(60), 1_000);
        let c = ManualClock::new(5);
        c.advance_ms(10);
        assert_eq!(c.now_ms(), 15);
    }
}
