//! Alarms that need a clock rather than a message: a door left unlocked, or open, longer than
//! the property's policy allows (a door in passage mode is never "left unlocked"). Raised once
//! per episode.

use std::collections::HashMap;

use latchkey_core::PropertyId;
use latchkey_core::model::DoorMode;
use latchkey_store::audit::NewEvent;
use latchkey_store::property;
use serde_json::json;

use crate::{App, Result};

impl App {
    /// Raises the left-unlocked and door-ajar alarms that are due.
    ///
    /// # Errors
    /// `Store` when the alarm cannot be recorded (it is tried again next time).
    pub async fn check_left_open(&self) -> Result<()> {
        let now = self.now();
        let candidates: Vec<_> = {
            let map = self
                .bridge()
                .open_since
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            map.iter().map(|(d, o)| (*d, *o)).collect()
        };
        if candidates.is_empty() {
            return Ok(());
        }
        let mut minutes: HashMap<PropertyId, u32> = HashMap::new();
        let mut events = Vec::new();
        let mut raised = Vec::new();
        {
            let mut conn = self.store().read().await?;
            for (door, o) in candidates {
                let limit = match minutes.get(&o.property) {
                    Some(m) => *m,
                    None => {
                        let m = property::get_property(&mut conn, o.property)
                            .await?
                            .map_or(10, |p| p.policy.door_ajar_minutes);
                        minutes.insert(o.property, m);
                        m
                    }
                };
                let limit = jiff::SignedDuration::from_mins(i64::from(limit));
                let over = |since: Option<jiff::Timestamp>| {
                    since.is_some_and(|t| now.duration_since(t) >= limit)
                };
                // A door in passage mode is held unlocked on purpose.
                if !o.alarmed_unlocked
                    && over(o.unlocked)
                    && property::get_door(&mut conn, door)
                        .await?
                        .is_none_or(|d| d.mode != DoorMode::Passage)
                {
                    events.push(
                        NewEvent::new("lock.alarm", format!("door:{door}"))
                            .property(o.property)
                            .data(json!({ "alarm": "left_unlocked", "severity": "warning", "since": o.unlocked })),
                    );
                    raised.push((door, true));
                }
                if !o.alarmed_open && over(o.open) {
                    events.push(
                        NewEvent::new("lock.alarm", format!("door:{door}"))
                            .property(o.property)
                            .data(json!({ "alarm": "door_ajar", "severity": "warning", "since": o.open })),
                    );
                    raised.push((door, false));
                }
            }
        }
        if events.is_empty() {
            return Ok(());
        }
        let mut tx = self.store().write().await?;
        self.queue_alarm_notices(tx.conn(), &events, now).await?;
        self.commit_at(tx, events, now).await?;
        let mut map = self
            .bridge()
            .open_since
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        for (door, unlocked) in raised {
            if let Some(o) = map.get_mut(&door) {
                if unlocked {
                    o.alarmed_unlocked = true;
                } else {
                    o.alarmed_open = true;
                }
            }
        }
        Ok(())
    }
}
