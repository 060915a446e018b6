//! Counts read from the database at scrape time, one bounded query each
//! (`latchkey_store::gauges`).

use latchkey_store::{audit, gauges};

use crate::{App, Result};

/// The installation's counts as the database holds them now.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Gauges {
    /// Locks by availability (`online`, `offline`, `unknown`).
    pub locks: Vec<(String, i64)>,
    /// PIN slots still on their way, or stuck, by status (`pending`, `failed`, …).
    pub slots: Vec<(String, i64)>,
    /// Deliveries not sent, by channel and state (`pending`, `dead`).
    pub deliveries: Vec<(String, String, i64)>,
    /// Notifications not yet turned into deliveries.
    pub unrouted: i64,
    /// How long the slot that has been due longest has waited for the reconciler, in seconds
    /// (0 when nothing is due).
    pub reconcile_lag_seconds: f64,
    /// The audit log's last sequence number.
    pub audit_head: i64,
}

impl App {
    /// Reads [`Gauges`].
    ///
    /// # Errors
    /// `Store` when the database cannot be read.
    pub async fn gauges(&self) -> Result<Gauges> {
        let now = self.now();
        let mut conn = self.store().read().await?;
        let oldest = gauges::oldest_due_slot(&mut conn, now).await?;
        let lag = oldest.map_or(0.0, |t| now.duration_since(t).as_secs_f64().max(0.0));
        Ok(Gauges {
            locks: gauges::locks_by_availability(&mut conn).await?,
            slots: gauges::slots_by_status(&mut conn).await?,
            deliveries: gauges::unsent_deliveries(&mut conn).await?,
            unrouted: gauges::unrouted_notifications(&mut conn).await?,
            reconcile_lag_seconds: lag,
            audit_head: audit::read_head(&mut conn).await?.0,
        })
    }
}
