//! Slowing down password guessing: after too many failed logins for one
//! account within a window, further attempts for it are refused for the rest
//! of the window, whatever the password. Per account, not per address:
//! behind a reverse proxy every request shares the proxy's address. Kept in
//! memory per instance, so with several instances the limit is per instance,
//! which still bounds guessing to a few attempts a minute.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failed attempts allowed per account per window.
pub const MAX_FAILURES: u32 = 5;
pub const WINDOW: Duration = Duration::from_secs(15 * 60);

#[derive(Default)]
pub struct LoginThrottle {
    failures: Mutex<HashMap<String, (u32, Instant)>>,
}

fn key(email: &str) -> String {
    email.trim().to_lowercase()
}

impl LoginThrottle {
    /// `Some(wait)` while attempts for this account are refused.
    pub fn blocked(&self, email: &str, now: Instant) -> Option<Duration> {
        let map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        map.get(&key(email))
            .filter(|(n, since)| *n >= MAX_FAILURES && now.duration_since(*since) < WINDOW)
            .map(|(_, since)| WINDOW - now.duration_since(*since))
    }

    pub fn failed(&self, email: &str, now: Instant) {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        map.retain(|_, (_, since)| now.duration_since(*since) < WINDOW);
        map.entry(key(email)).or_insert((0, now)).0 += 1;
    }

    pub fn succeeded(&self, email: &str) {
        self.failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&key(email));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_after_five_failures_for_the_window() {
        let t = LoginThrottle::default();
        let start = Instant::now();
        for _ in 0..MAX_FAILURES {
            assert!(t.blocked("Sam@x.example", start).is_none());
            t.failed("sam@x.example", start);
        }
        assert!(t.blocked("SAM@x.example ", start).is_some());
        assert!(t.blocked("other@x.example", start).is_none());
        assert!(
            t.blocked("sam@x.example", start + WINDOW).is_none(),
            "the window passes"
        );
        t.succeeded("sam@x.example");
        assert!(t.blocked("sam@x.example", start).is_none());
    }
}
