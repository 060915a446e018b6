//! What the app tells monitoring (docs/OPERATIONS.md, "Monitoring"): counters it keeps in
//! memory for what only this process sees ([`Counters`]: remote command round trips, failed
//! delivery attempts), counts read from the database when a scraper asks ([`Gauges`]), and the
//! readiness of this replica ([`Probe`]). The HTTP layer turns them into Prometheus metrics and
//! decides who may read them; this module knows nothing of either.
//!
//! These reads take no principal: they are counts of the whole installation, with no name, door
//! or property in them, served only to whoever the HTTP layer lets scrape.

mod counters;
mod gauges;
mod probe;

pub use counters::{Counters, HistogramSnapshot, ROUND_TRIP_BUCKETS};
pub use gauges::Gauges;
pub use probe::{Check, LeaseRole, Probe};
