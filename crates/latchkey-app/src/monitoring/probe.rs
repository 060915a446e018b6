//! Whether this replica is ready to serve: the database answers, the broker session is up, and
//! some replica holds the reconciler's lease (else no lock is being brought up to date).

use std::time::Duration;

use latchkey_store::gauges;

use crate::App;

/// How long a check may take before it counts as failed: a database that takes longer to say
/// `1` is not one to send traffic to.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// One check's result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Check {
    Ok,
    Failed,
    /// Not part of this server's set-up (no broker with `--no-mqtt`).
    Off,
}

/// Who holds the reconciler's lease, as seen from this replica.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LeaseRole {
    /// This replica holds it: it sends the locks their commands.
    Holder,
    /// Another replica holds it; this one stands by.
    Standby,
    /// Nobody holds an unexpired lease.
    Unheld,
    /// Not known: the database did not answer, or no reconciler runs here.
    Unknown,
}

/// This replica's readiness.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Probe {
    pub database: Check,
    pub broker: Check,
    pub reconciler: LeaseRole,
}

impl Probe {
    /// Ready when no check failed and the lease, where it is checked, is held by some replica.
    pub fn ready(&self) -> bool {
        self.database != Check::Failed
            && self.broker != Check::Failed
            && self.reconciler != LeaseRole::Unheld
    }
}

impl App {
    /// Probes this replica. `replica` is the name this replica holds the reconciler's lease
    /// under, `None` when it runs no reconciler (then the lease is not checked). Never fails:
    /// an unreachable database is a failed check.
    pub async fn probe(&self, replica: Option<&str>) -> Probe {
        let port = self.port();
        let broker = if !port.drives_devices() {
            Check::Off
        } else if port.connected() {
            Check::Ok
        } else {
            Check::Failed
        };
        let now = self.now();
        let read = async {
            let mut conn = self.store().read().await?;
            gauges::ping(&mut conn).await?;
            let lease = match replica {
                Some(_) => gauges::lease(&mut conn, crate::devices::reconcile::LEASE).await?,
                None => None,
            };
            Ok::<_, crate::AppError>(lease)
        };
        let (database, lease) = match tokio::time::timeout(CHECK_TIMEOUT, read).await {
            Ok(Ok(lease)) => (Check::Ok, Some(lease)),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "readiness: the database did not answer");
                (Check::Failed, None)
            }
            Err(_) => {
                tracing::warn!("readiness: the database did not answer within {CHECK_TIMEOUT:?}");
                (Check::Failed, None)
            }
        };
        let reconciler = match (replica, lease) {
            (None, _) | (_, None) => LeaseRole::Unknown,
            (Some(me), Some(Some((holder, until)))) if until >= now => {
                if holder == me {
                    LeaseRole::Holder
                } else {
                    LeaseRole::Standby
                }
            }
            (Some(_), Some(_)) => LeaseRole::Unheld,
        };
        Probe {
            database,
            broker,
            reconciler,
        }
    }
}
