//! Sign-in attempts per client address in a fixed one-minute window, right or wrong, so a
//! secret cannot be guessed at the speed of the server.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

const WINDOW_MS: i64 = 60_000;
/// Past this many addresses, the ones whose window has ended are forgotten.
const TRACKED: usize = 10_000;

pub struct Limiter {
    per_minute: u32,
    seen: Mutex<HashMap<IpAddr, (i64, u32)>>,
}

impl Limiter {
    pub fn new(per_minute: u32) -> Limiter {
        Limiter {
            per_minute,
            seen: Mutex::new(HashMap::new()),
        }
    }

    /// Counts an attempt; false when the address has used up its minute.
    pub fn allow(&self, addr: IpAddr, now_ms: i64) -> bool {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        if seen.len() >= TRACKED {
            seen.retain(|_, (start, _)| now_ms - *start < WINDOW_MS);
        }
        let entry = seen.entry(addr).or_insert((now_ms, 0));
        if now_ms - entry.0 >= WINDOW_MS {
            *entry = (now_ms, 0);
        }
        if entry.1 >= self.per_minute {
            return false;
        }
        entry.1 += 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_gets_its_attempts_per_minute_and_others_are_not_held_up() {
        let l = Limiter::new(3);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        assert!((0..3).all(|_| l.allow(a, 1_000)));
        assert!(!l.allow(a, 30_000));
        assert!(l.allow(b, 30_000));
        assert!(l.allow(a, 61_000));
    }
}
