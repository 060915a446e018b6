//! A remote command that was refused, recorded. The API answers a refusal to the person who
//! asked (403, 404); a command that arrives from an automation — Home Assistant's command
//! topic — has nobody to answer, so the refusal is written to the log instead, with who asked,
//! the door, the action and the reason (docs/ARCHITECTURE.md, decision 58).

use latchkey_core::DoorId;
use latchkey_store::audit::NewEvent;
use serde_json::json;

use super::RemoteAction;
use crate::authz::OwnAccount;
use crate::{App, Result};

impl App {
    /// Records that the caller's `action` on door `door` was refused for `reason`, naming
    /// `via` (where the command came from, e.g. `home_assistant`). Being one's own attempt, it
    /// takes the caller's own account. The door's property is named when the door exists, so
    /// its staff and household read the refusal where they read the door's other events.
    ///
    /// # Errors
    /// `Store` when the event cannot be written.
    pub async fn record_refused_command(
        &self,
        own: OwnAccount<'_>,
        door: DoorId,
        action: RemoteAction,
        via: &str,
        reason: &str,
    ) -> Result<()> {
        let who = own.principal();
        let mut tx = self.store().write().await?;
        let property = latchkey_store::property::get_door(tx.conn(), door)
            .await?
            .map(|d| d.property_id);
        let ev = NewEvent::new("lock.command_refused", format!("door:{door}"))
            .actor(Some(who.id()))
            .data(json!({ "action": action, "via": via, "reason": reason }));
        let ev = match property {
            Some(p) => ev.property(p),
            None => ev,
        };
        self.commit_with(tx, vec![ev]).await
    }
}
