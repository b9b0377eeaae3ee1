//! Requests to status pages per client address: at most `per_minute` in each minute (a fixed
//! window per address), so one client cannot take a server's whole capacity. Over the bound
//! the answer is 429 with the seconds until the window ends. The table is bounded; expired
//! windows are dropped when it fills, and past that new addresses are let through uncounted
//! rather than refused.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

/// Most addresses counted at once.
const MAX_ADDRESSES: usize = 100_000;
const WINDOW: Duration = Duration::from_secs(60);

pub(crate) struct RateLimiter {
    /// 0: no bound.
    per_minute: u32,
    seen: Mutex<HashMap<IpAddr, (u32, Instant)>>,
}

impl RateLimiter {
    pub(crate) fn new(per_minute: u32) -> Self {
        Self {
            per_minute,
            seen: Mutex::new(HashMap::new()),
        }
    }

    /// Counts a request from `address`; `Err(seconds to wait)` over the bound.
    pub(crate) fn admit(&self, address: IpAddr) -> Result<(), u64> {
        if self.per_minute == 0 {
            return Ok(());
        }
        let now = Instant::now();
        let mut seen = self.seen.lock();
        if seen.len() >= MAX_ADDRESSES && !seen.contains_key(&address) {
            seen.retain(|_, (_, since)| now.duration_since(*since) < WINDOW);
            if seen.len() >= MAX_ADDRESSES {
                return Ok(());
            }
        }
        let entry = seen.entry(address).or_insert((0, now));
        let elapsed = now.duration_since(entry.1);
        if elapsed >= WINDOW {
            *entry = (0, now);
        }
        if entry.0 >= self.per_minute {
            return Err((WINDOW - now.duration_since(entry.1)).as_secs().max(1));
        }
        entry.0 += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_refused_past_its_bound_and_others_are_not() {
        let limiter = RateLimiter::new(3);
        let a = IpAddr::from([10, 0, 0, 1]);
        for _ in 0..3 {
            assert!(limiter.admit(a).is_ok());
        }
        let wait = limiter.admit(a).err().unwrap();
        assert!((1..=60).contains(&wait));
        assert!(limiter.admit(IpAddr::from([10, 0, 0, 2])).is_ok());
        assert!(RateLimiter::new(0).admit(a).is_ok());
    }
}
