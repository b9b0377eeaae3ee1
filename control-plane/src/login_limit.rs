//! Failed-login limits, counted before the password is checked so that concurrent guesses
//! cannot slip past the limit. Two counters per attempt:
//! - the pair (client address, account): `login_max_failures` failures in `login_window_secs`;
//! - the client address alone: [`ADDRESS_FACTOR`] times as many, so one address cannot guess
//!   across many accounts.
//!
//! There is deliberately no counter per account alone: it would let anyone lock a victim out
//! from everywhere with a few wrong passwords. An attacker thus locks out only their own
//! address, and people behind the same address keep logging in to their own accounts until
//! the address's larger bound is reached. Over a limit the answer is 429 with Retry-After
//! until the window ends. The table is bounded; expired windows are dropped when it fills.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

/// Most keys held at once (two per recent attempt source).
const MAX_KEYS: usize = 100_000;
/// An address may fail this many times the per-account limit in a window.
pub(crate) const ADDRESS_FACTOR: u32 = 10;

pub(crate) struct LoginLimiter {
    max_failures: u32,
    window: Duration,
    failures: Mutex<HashMap<String, (u32, Instant)>>,
}

/// One attempt counted against its limits; [`LoginLimiter::succeeded`] takes it back.
#[must_use]
pub(crate) struct Attempt {
    pair: String,
    address: String,
}

impl LoginLimiter {
    pub(crate) fn new(max_failures: u32, window: Duration) -> Self {
        Self {
            max_failures,
            window,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// Counts an attempt by `address` on `account`, refusing it (`Err(seconds to wait)`)
    /// without counting when either limit is already reached. Checking and counting happen
    /// under one lock, so N concurrent attempts are counted N times.
    pub(crate) fn attempt(&self, address: IpAddr, account: &str) -> Result<Attempt, u64> {
        let attempt = Attempt {
            pair: format!("pair:{address}/{account}"),
            address: format!("ip:{address}"),
        };
        let now = Instant::now();
        let mut failures = self.failures.lock();
        let limits = [
            (&attempt.pair, self.max_failures),
            (
                &attempt.address,
                self.max_failures.saturating_mul(ADDRESS_FACTOR),
            ),
        ];
        for (key, max) in limits {
            if let Some(&(count, since)) = failures.get(key.as_str()) {
                let elapsed = now.duration_since(since);
                if count >= max && elapsed < self.window {
                    return Err((self.window - elapsed).as_secs().max(1));
                }
            }
        }
        if failures.len() + 2 > MAX_KEYS {
            failures.retain(|_, (_, since)| now.duration_since(*since) < self.window);
        }
        for (key, _) in limits {
            if failures.len() >= MAX_KEYS && !failures.contains_key(key.as_str()) {
                continue;
            }
            let entry = failures.entry(key.clone()).or_insert((0, now));
            if now.duration_since(entry.1) >= self.window {
                *entry = (0, now);
            }
            entry.0 += 1;
        }
        Ok(attempt)
    }

    /// The attempt succeeded: the pair's failures are forgotten and the address gets this
    /// attempt back.
    pub(crate) fn succeeded(&self, attempt: Attempt) {
        let mut failures = self.failures.lock();
        failures.remove(&attempt.pair);
        if let Some(entry) = failures.get_mut(&attempt.address) {
            entry.0 = entry.0.saturating_sub(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 2));

    #[test]
    fn a_pair_is_refused_past_its_limit_but_others_are_not_locked_out() {
        let limiter = LoginLimiter::new(2, Duration::from_secs(60));
        assert!(limiter.attempt(A, "mail").is_ok());
        assert!(limiter.attempt(A, "mail").is_ok());
        let wait = limiter.attempt(A, "mail").err().unwrap();
        assert!((1..=60).contains(&wait));
        // The account from another address, and another account from the same address.
        limiter.succeeded(limiter.attempt(B, "mail").unwrap());
        assert!(limiter.attempt(A, "other").is_ok());
    }

    #[test]
    fn an_address_is_refused_past_its_larger_limit() {
        let limiter = LoginLimiter::new(2, Duration::from_secs(60));
        for i in 0..2 * ADDRESS_FACTOR {
            assert!(limiter.attempt(A, &format!("user{i}")).is_ok());
        }
        assert!(limiter.attempt(A, "fresh").is_err());
        assert!(limiter.attempt(B, "fresh").is_ok());
    }

    #[test]
    fn success_forgets_the_pairs_failures() {
        let limiter = LoginLimiter::new(2, Duration::from_secs(60));
        assert!(limiter.attempt(A, "mail").is_ok());
        limiter.succeeded(limiter.attempt(A, "mail").unwrap());
        assert!(limiter.attempt(A, "mail").is_ok());
        assert!(limiter.attempt(A, "mail").is_ok());
        assert!(limiter.attempt(A, "mail").is_err());
    }
}
