//! In-memory counters, updated where the events happen and read at scrape time. Plain atomics:
//! counting costs an increment, and nothing here waits for a lock on the unlock path.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::devices::RemoteAction;

/// Upper bounds, in seconds, of the remote command round-trip histogram: from a lock that
/// answers at once on loopback to one that takes its motor's time over a slow mesh.
pub const ROUND_TRIP_BUCKETS: [f64; 10] = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 15.0];

/// A histogram with fixed buckets.
#[derive(Debug, Default)]
struct Histogram {
    /// One count per bound of [`ROUND_TRIP_BUCKETS`], and one past the last.
    buckets: [AtomicU64; ROUND_TRIP_BUCKETS.len() + 1],
    sum_micros: AtomicU64,
}

impl Histogram {
    fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        let i = ROUND_TRIP_BUCKETS
            .iter()
            .position(|b| secs <= *b)
            .unwrap_or(ROUND_TRIP_BUCKETS.len());
        self.buckets[i].fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        self.sum_micros.fetch_add(micros, Ordering::Relaxed);
    }

    fn snapshot(&self) -> HistogramSnapshot {
        let counts: Vec<u64> = self
            .buckets
            .iter()
            .map(|b| b.load(Ordering::Relaxed))
            .collect();
        HistogramSnapshot {
            buckets: ROUND_TRIP_BUCKETS
                .iter()
                .copied()
                .chain([f64::INFINITY])
                .zip(counts.iter().copied())
                .collect(),
            count: counts.iter().sum(),
            sum_seconds: Duration::from_micros(self.sum_micros.load(Ordering::Relaxed))
                .as_secs_f64(),
        }
    }
}

/// A histogram as read: per bucket (not cumulative) its upper bound and count, the last bound
/// infinite.
#[derive(Clone, Debug, PartialEq)]
pub struct HistogramSnapshot {
    pub buckets: Vec<(f64, u64)>,
    pub count: u64,
    pub sum_seconds: f64,
}

/// Counters of this process.
#[derive(Debug, Default)]
pub struct Counters {
    /// Remote commands answered `confirmed` by their lock, by action (lock, unlock): the time
    /// from the request to the committed confirmation.
    round_trips: [Histogram; 2],
    /// Remote commands by action and how they ended.
    outcomes: Mutex<BTreeMap<(&'static str, &'static str), u64>>,
    /// Failed delivery attempts by channel.
    delivery_failures: Mutex<BTreeMap<String, u64>>,
}

impl Counters {
    pub(crate) fn command_answered(
        &self,
        action: RemoteAction,
        status: &'static str,
        took: Duration,
    ) {
        if status == "confirmed" {
            self.round_trips[action as usize].observe(took);
        }
        *self
            .outcomes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry((action.as_str(), status))
            .or_default() += 1;
    }

    pub(crate) fn delivery_failed(&self, channel: &str) {
        let mut map = self
            .delivery_failures
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        match map.get_mut(channel) {
            Some(n) => *n += 1,
            None => {
                map.insert(channel.to_owned(), 1);
            }
        }
    }

    /// The round-trip histogram of each action.
    pub fn round_trips(&self) -> Vec<(RemoteAction, HistogramSnapshot)> {
        [RemoteAction::Lock, RemoteAction::Unlock]
            .into_iter()
            .map(|a| (a, self.round_trips[a as usize].snapshot()))
            .collect()
    }

    /// Remote commands by action and status (`confirmed`, `failed`, `unconfirmed`, `unsent`).
    pub fn command_outcomes(&self) -> Vec<(&'static str, &'static str, u64)> {
        self.outcomes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|((a, s), n)| (*a, *s, *n))
            .collect()
    }

    /// Failed delivery attempts by channel, retried or not.
    pub fn delivery_failures(&self) -> Vec<(String, u64)> {
        self.delivery_failures
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(c, n)| (c.clone(), *n))
            .collect()
    }
}

impl crate::App {
    /// This process's in-memory counters.
    pub fn counters(&self) -> &Counters {
        &self.inner.counters
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_round_trip_lands_in_the_first_bucket_that_holds_it() {
        let c = Counters::default();
        c.command_answered(RemoteAction::Unlock, "confirmed", Duration::from_millis(30));
        c.command_answered(RemoteAction::Unlock, "confirmed", Duration::from_secs(60));
        c.command_answered(RemoteAction::Unlock, "unconfirmed", Duration::from_secs(15));
        let (_, h) = c
            .round_trips()
            .into_iter()
            .find(|(a, _)| *a == RemoteAction::Unlock)
            .expect("unlock");
        assert_eq!(h.count, 2, "only confirmed commands are timed");
        assert_eq!(h.buckets[2], (0.05, 1));
        assert_eq!(h.buckets.last(), Some(&(f64::INFINITY, 1)));
        assert!((h.sum_seconds - 60.03).abs() < 1e-6);
        assert_eq!(
            c.command_outcomes(),
            vec![("unlock", "confirmed", 2), ("unlock", "unconfirmed", 1)]
        );
    }
}
