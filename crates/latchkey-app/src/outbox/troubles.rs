//! Dead letters and failing deliveries, for staff and admins to see, and the redeliver action.

use latchkey_store::audit::NewEvent;
use latchkey_store::outbox::{self as repo, Delivery, Trouble};
use serde_json::json;

use crate::authz::{OutboxReader, Principal, Redeliverer};
use crate::{App, AppError, Result};

/// Rows a listing returns at most.
pub const LIMIT: i64 = 500;

impl App {
    /// Dead letters (or failing deliveries) the reader may see, newest first, at most
    /// [`LIMIT`].
    ///
    /// # Errors
    /// Storage failed.
    pub async fn deliveries_in_trouble(
        &self,
        reader: OutboxReader<'_>,
        which: Trouble,
    ) -> Result<Vec<Delivery>> {
        let mut conn = self.store().read().await?;
        let backend = self.store().backend();
        Ok(repo::troubled(&mut conn, backend, reader.property(), which, LIMIT).await?)
    }

    /// Loads delivery `id` and checks that the caller may send it again
    /// ([`Principal::redeliverer`]).
    ///
    /// # Errors
    /// `NotFound` for an unknown delivery or one the caller may not know of; `Forbidden`.
    pub async fn may_redeliver<'a>(&self, who: &'a Principal, id: i64) -> Result<Redeliverer<'a>> {
        let mut conn = self.store().read().await?;
        let d = repo::get(&mut conn, id)
            .await?
            .ok_or_else(|| AppError::not_found("delivery"))?;
        who.redeliverer(d)
    }

    /// Puts a dead or failing delivery back in line now, its retry horizon restarted; audited.
    ///
    /// # Errors
    /// `Conflict` for a delivery already sent.
    pub async fn redeliver(&self, cap: Redeliverer<'_>) -> Result<Delivery> {
        let d = cap.delivery();
        let now = self.now();
        let mut tx = self.store().write().await?;
        if !repo::redeliver(tx.conn(), d.id, now).await? {
            return Err(AppError::Conflict(
                "this delivery was sent; it is not sent again".into(),
            ));
        }
        let fresh = repo::get(tx.conn(), d.id)
            .await?
            .ok_or_else(|| AppError::not_found("delivery"))?;
        let mut ev = NewEvent::new("notification.redelivered", format!("delivery:{}", d.id))
            .actor(Some(cap.principal().id()))
            .data(json!({
                "notification": d.notification_id, "channel": d.channel, "kind": d.kind,
                "person": d.person_id, "was": d.state.as_str(), "attempts": d.attempts,
            }));
        if let Some(p) = d.property_id {
            ev = ev.property(p);
        }
        self.commit_with(tx, vec![ev]).await?;
        self.outbox_wake();
        Ok(fresh)
    }

    /// Records in the change feed that the outbox has work (every process's worker wakes).
    pub(crate) fn outbox_wake(&self) {
        self.devices().outbox_changed();
    }
}
