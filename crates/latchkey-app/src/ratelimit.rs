//! Fixed-window counters in memory, for limits where each replica may count alone: a signed-in
//! person's PIN reveals (a PIN is shown once anyway) and remote lock commands (a throttle, not a
//! guard against guessing). Sign-in and lockout limits must hold across replicas and live in
//! the database ([`crate::limits`]).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::AppError;

#[derive(Default)]
pub struct RateLimiter {
    windows: Mutex<HashMap<String, (Instant, u32)>>,
}

impl RateLimiter {
    /// Counts one attempt under `key`; refuses once `limit` attempts were made in `window`.
    ///
    /// # Errors
    /// `RateLimited` with the seconds until the window ends.
    pub fn hit(&self, key: &str, limit: u32, window: Duration) -> Result<(), AppError> {
        let now = Instant::now();
        let mut map = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() > 100_000 {
            map.retain(|_, (start, _)| now.duration_since(*start) < window);
        }
        let entry = map.entry(key.to_owned()).or_insert((now, 0));
        if now.duration_since(entry.0) >= window {
            *entry = (now, 0);
        }
        if entry.1 >= limit {
            let left = window.saturating_sub(now.duration_since(entry.0));
            return Err(AppError::RateLimited {
                retry_after_secs: left.as_secs().max(1),
            });
        }
        entry.1 += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_attempt_after_the_limit_is_refused_with_a_wait() {
        let rl = RateLimiter::default();
        for _ in 0..3 {
            rl.hit("a", 3, Duration::from_secs(60)).unwrap();
        }
        match rl.hit("a", 3, Duration::from_secs(60)) {
            Err(AppError::RateLimited { retry_after_secs }) => assert!(retry_after_secs >= 1),
            other => panic!("expected a refusal, got {other:?}"),
        }
        rl.hit("b", 3, Duration::from_secs(60))
            .expect("other keys are independent");
    }
}
