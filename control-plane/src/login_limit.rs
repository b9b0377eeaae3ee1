//! Failed-login limits: at most `login_max_failures` failures per client address and per
//! account in a `login_window_secs` window; then 429 with Retry-After until the window ends.
//! The table is bounded; expired windows are dropped when it fills.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

/// Most keys held at once (two per recent failure source).
const MAX_KEYS: usize = 100_000;

pub(crate) struct LoginLimiter {
    max_failures: u32,
    window: Duration,
    failures: Mutex<HashMap<String, (u32, Instant)>>,
}

impl LoginLimiter {
    pub(crate) fn new(max_failures: u32, window: Duration) -> Self {
        Self {
            max_failures,
            window,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// `Err(seconds to wait)` when any of `keys` is over its limit.
    pub(crate) fn check(&self, keys: &[&str]) -> Result<(), u64> {
        let now = Instant::now();
        let failures = self.failures.lock();
        for key in keys {
            if let Some(&(count, since)) = failures.get(*key) {
                let elapsed = now.duration_since(since);
                if count >= self.max_failures && elapsed < self.window {
                    return Err((self.window - elapsed).as_secs().max(1));
                }
            }
        }
        Ok(())
    }

    /// Counts a failed login against each of `keys`.
    pub(crate) fn failed(&self, keys: &[&str]) {
        let now = Instant::now();
        let mut failures = self.failures.lock();
        if failures.len() + keys.len() > MAX_KEYS {
            failures.retain(|_, (_, since)| now.duration_since(*since) < self.window);
        }
        for key in keys {
            if failures.len() >= MAX_KEYS && !failures.contains_key(*key) {
                continue;
            }
            let entry = failures.entry((*key).to_owned()).or_insert((0, now));
            if now.duration_since(entry.1) >= self.window {
                *entry = (0, now);
            }
            entry.0 += 1;
        }
    }

    /// Forgets the failures of an account that signed in.
    pub(crate) fn succeeded(&self, key: &str) {
        self.failures.lock().remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_past_the_limit_are_refused_until_the_window_ends() {
        let limiter = LoginLimiter::new(2, Duration::from_secs(60));
        assert!(limiter.check(&["ip", "mail"]).is_ok());
        limiter.failed(&["ip", "mail"]);
        limiter.failed(&["ip", "mail"]);
        let wait = limiter.check(&["other-ip", "mail"]).unwrap_err();
        assert!((1..=60).contains(&wait));
        limiter.succeeded("mail");
        assert!(limiter.check(&["other-ip", "mail"]).is_ok());
        assert!(limiter.check(&["ip"]).is_err());
    }
}
