//! Capped exponential backoff with jitter, for retrying failed polls and
//! syncs without busy-looping or synchronised retry storms.

use std::time::Duration;

/// Backoff state.
#[derive(Debug, Clone)]
pub struct Backoff {
    base: Duration,
    cap: Duration,
    failures: u32,
}

impl Backoff {
    /// Starts at `base`, doubles per failure, never above `cap`.
    pub fn new(base: Duration, cap: Duration) -> Self {
        Self { base, cap, failures: 0 }
    }

    /// Records a failure and returns how long to wait: the capped
    /// exponential delay, scaled by a jitter factor in [0.5, 1.0).
    pub fn failed(&mut self, jitter: f64) -> Duration {
        let exponential = self.base.saturating_mul(1u32 << self.failures.min(16));
        self.failures = self.failures.saturating_add(1);
        exponential.min(self.cap).mul_f64(0.5 + jitter.clamp(0.0, 0.999) / 2.0)
    }

    /// Records a success: the next failure starts from `base` again.
    pub fn succeeded(&mut self) {
        self.failures = 0;
    }
}

/// A jitter value in [0, 1) from the clock's sub-second noise (good enough
/// to de-synchronise replicas; not for cryptography).
pub fn jitter() -> f64 {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    f64::from(nanos % 1000) / 1000.0
}

/// `interval` scaled by ±10 % jitter.
pub fn jittered(interval: Duration, jitter: f64) -> Duration {
    interval.mul_f64(0.9 + jitter.clamp(0.0, 1.0) * 0.2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_cap_and_resets() {
        let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(10));
        let delays: Vec<u64> = (0..6).map(|_| b.failed(0.999).as_millis() as u64).collect();
        // jitter 0.999 scales by 0.9995.
        assert_eq!(delays, [999, 1999, 3998, 7996, 9995, 9995]);
        let mut low = Backoff::new(Duration::from_secs(1), Duration::from_secs(10));
        assert_eq!(low.failed(0.0), Duration::from_millis(500));
        b.succeeded();
        assert_eq!(b.failed(0.0), Duration::from_millis(500));
        assert_eq!(jittered(Duration::from_secs(60), 0.5), Duration::from_secs(60));
    }
}
