//! The heat map's cache: one map per property and failure, kept until the audit log says
//! something it was computed from may have changed, or until time alone changes it.
//!
//! Why the log and not the change feed: every change the drill reads (memberships, credentials,
//! spare keys, the on-call roster, locksmiths, the policy, units and doors, people's passkeys,
//! authenticator apps and recovery cards, lockout cases) is an audit event written in the
//! transaction of the change, with a `seq` that orders every process's writes; the `changes`
//! table is written after the commit and only for what locks hold. This process's log follower
//! (`live.rs`) hands every event to [`MapCache::observe`]; a page load also reads the log's head
//! and looks itself at any events the follower has not reached yet, so a change committed by
//! another process is never missed, however late the follower is.
//!
//! The rule, in order:
//! 1. An event of a kind in [`NEVER_CHANGES_READINESS`] changes nothing (door and lock states,
//!    commands, sign-ins, notifications…), except `access.granted` that used up a credential's
//!    last use (`used_up` in its data), `lock.slot_set` of a code a lock holds only as assumed
//!    (`held: assumed`, which the drill says) and `lock.slot_lost`.
//! 2. Any other event marks its property dirty at its `seq`; one of no property (a passkey, an
//!    authenticator app) marks every property dirty. Unknown kinds are dirty: a new kind can
//!    make the map recompute, never go stale.
//! 3. A map computed after reading head `h` is fresh while no dirty mark above `h` exists for
//!    its property, and until its `until` instant (the next local midnight, when the week moves,
//!    or the next start or end of a membership there).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use jiff::Timestamp;
use latchkey_core::PropertyId;
use latchkey_core::drill::Failure;
use latchkey_store::records::Event;

use super::HeatMap;

/// Kinds that never change what the drill reads.
pub const NEVER_CHANGES_READINESS: &[&str] = &[
    "access.checked",
    "access.denied",
    "access.granted",
    "access.presence_code",
    "alarm.acknowledged",
    "auth.login",
    "auth.login_failed",
    "auth.passkey_renamed",
    "auth.proof_failed",
    "auth.proof_given",
    "auth.session_revoked",
    "auth.token_created",
    "auth.token_revoked",
    "broker.login_created",
    "broker.login_failed",
    "broker.login_revoked",
    "broker.login_rotated",
    "credential.pin_revealed",
    "door.closed",
    "door.lock_paired",
    "door.lock_unpaired",
    "door.mode_changed",
    "door.opened",
    "entry_notice.cancelled",
    "entry_notice.created",
    "entry_notice.opened",
    "lock.alarm",
    "lock.capacity_exceeded",
    "lock.case_command",
    "lock.changed_while_away",
    "lock.command",
    "lock.command_confirmed",
    "lock.command_failed",
    "lock.command_rejected",
    "lock.command_unconfirmed",
    "lock.emergency_command",
    "lock.event",
    "lock.jam_cleared",
    "lock.jammed",
    "lock.locked",
    "lock.online",
    "lock.operated",
    "lock.slot_failed",
    "lock.slot_removed",
    "lock.slot_set",
    "lock.spare_key_command",
    "lock.unlocked",
    "notification.redelivered",
    "person.invitation_created",
    "person.invitation_refused",
    "person.invitation_revoked",
    "person.invitation_used",
    "person.notification_preferences_changed",
    "person.password_set",
    "privacy.activity_viewed",
    "sensor.closed",
    "sensor.opened",
];

/// Whether `e` may change a property's readiness (rule 1 above).
pub fn changes_readiness(e: &Event) -> bool {
    // A code a lock holds only as assumed is said by the drill; one whose slot is lost is no
    // longer held at all.
    if e.kind == "lock.slot_set" {
        return e.data.get("held").and_then(serde_json::Value::as_str) == Some("assumed");
    }
    if e.kind == "lock.slot_lost" {
        return true;
    }
    if e.kind == "access.granted" {
        return e
            .data
            .get("used_up")
            .and_then(serde_json::Value::as_bool)
            .unwrap_or(false);
    }
    !NEVER_CHANGES_READINESS.contains(&e.kind.as_str())
}

struct Entry {
    /// The log head read before the map was computed.
    seq: i64,
    until: Timestamp,
    map: Arc<HeatMap>,
}

#[derive(Default)]
struct State {
    /// The log position through which every event has been observed.
    seen: i64,
    /// Per property, the `seq` of the newest event that may have changed it.
    dirty: HashMap<PropertyId, i64>,
    /// The `seq` of the newest such event of no property (it may change any property).
    dirty_everywhere: i64,
    maps: HashMap<(PropertyId, Failure), Entry>,
}

impl State {
    fn dirty_at(&self, p: PropertyId) -> i64 {
        self.dirty
            .get(&p)
            .copied()
            .unwrap_or(0)
            .max(self.dirty_everywhere)
    }
}

/// The cache; one per process (see the module's description).
#[derive(Default)]
pub(crate) struct MapCache {
    state: Mutex<State>,
}

impl MapCache {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding it leaves at worst a map too many: the state is still valid.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The follower starts reading after `head`: everything up to it counts as observed, since
    /// no map computed before then exists.
    pub(crate) fn start(&self, head: i64) {
        let mut s = self.lock();
        s.seen = s.seen.max(head);
    }

    /// Every log event, in order, from the follower or from a page load that caught up itself.
    pub(crate) fn observe(&self, e: &Event) {
        let mut s = self.lock();
        if changes_readiness(e) {
            // A map computed after reading a head at or past this event already shows it: the
            // same event observed twice (by a page load's catch-up, then by the follower) must
            // not throw that map away.
            match e.property_id {
                Some(p) => {
                    let d = s.dirty.entry(p).or_default();
                    *d = (*d).max(e.seq);
                    s.maps.retain(|(q, _), kept| *q != p || kept.seq >= e.seq);
                }
                None => {
                    s.dirty_everywhere = s.dirty_everywhere.max(e.seq);
                    s.maps.retain(|_, kept| kept.seq >= e.seq);
                }
            }
        }
        s.seen = s.seen.max(e.seq);
    }

    /// How far the observed events reach.
    pub(crate) fn seen(&self) -> i64 {
        self.lock().seen
    }

    /// The map of `property` after `failure`, when it is fresh at log head `head` and instant
    /// `now`. The caller has made sure every event up to `head` was observed.
    pub(crate) fn get(
        &self,
        property: PropertyId,
        failure: Failure,
        head: i64,
        now: Timestamp,
    ) -> Option<Arc<HeatMap>> {
        let s = self.lock();
        if s.seen < head {
            return None;
        }
        let e = s.maps.get(&(property, failure))?;
        (e.seq >= s.dirty_at(property) && now < e.until).then(|| e.map.clone())
    }

    /// Keeps a map computed after reading log head `seq`, unless a change observed meanwhile
    /// already makes it stale.
    pub(crate) fn put(&self, seq: i64, until: Timestamp, map: Arc<HeatMap>) {
        let mut s = self.lock();
        let p = map.property_id;
        if seq < s.dirty_at(p) {
            return;
        }
        s.maps.insert((p, map.failure), Entry { seq, until, map });
    }
}

#[cfg(test)]
mod tests {
    use super::super::Fallback;
    use super::*;

    fn event(seq: i64, kind: &str, property: Option<i64>, data: serde_json::Value) -> Event {
        Event {
            seq,
            at: Timestamp::UNIX_EPOCH,
            property_id: property.map(PropertyId),
            actor_id: None,
            kind: kind.into(),
            subject: "x".into(),
            data,
        }
    }

    fn map(p: i64) -> Arc<HeatMap> {
        Arc::new(HeatMap {
            property_id: PropertyId(p),
            failure: Failure::PhoneGone,
            week_from: "2026-12-03".into(),
            units: Vec::new(),
            fallback: Fallback {
                locksmith_hours: 0,
                locksmith_from_cents: None,
            },
        })
    }

    const LATER: Timestamp = Timestamp::MAX;

    #[test]
    fn a_map_stays_until_a_change_of_its_property_and_lock_states_never_touch_it() {
        let c = MapCache::default();
        c.start(10);
        c.put(10, LATER, map(1));
        let now = Timestamp::UNIX_EPOCH;
        assert!(c.get(PropertyId(1), Failure::PhoneGone, 10, now).is_some());
        assert!(
            c.get(PropertyId(1), Failure::PinForgotten, 10, now)
                .is_none()
        );
        c.observe(&event(11, "lock.locked", Some(1), serde_json::json!({})));
        c.observe(&event(11, "lock.slot_set", Some(1), serde_json::json!({})));
        c.observe(&event(12, "access.granted", Some(1), serde_json::json!({})));
        c.observe(&event(
            13,
            "membership.created",
            Some(2),
            serde_json::json!({}),
        ));
        assert!(c.get(PropertyId(1), Failure::PhoneGone, 13, now).is_some());
        c.observe(&event(
            14,
            "spare_key.revoked",
            Some(1),
            serde_json::json!({}),
        ));
        assert!(c.get(PropertyId(1), Failure::PhoneGone, 14, now).is_none());
    }

    #[test]
    fn a_last_use_a_personless_change_and_an_unknown_kind_all_make_it_stale() {
        let now = Timestamp::UNIX_EPOCH;
        for (kind, property, data) in [
            (
                "access.granted",
                Some(1),
                serde_json::json!({ "used_up": true }),
            ),
            ("auth.passkey_added", None, serde_json::json!({})),
            ("some.new_kind", Some(1), serde_json::json!({})),
            (
                "lock.slot_set",
                Some(1),
                serde_json::json!({ "held": "assumed" }),
            ),
            ("lock.slot_lost", Some(1), serde_json::json!({})),
        ] {
            let c = MapCache::default();
            c.start(10);
            c.put(10, LATER, map(1));
            c.observe(&event(11, kind, property, data));
            assert!(
                c.get(PropertyId(1), Failure::PhoneGone, 11, now).is_none(),
                "{kind}"
            );
        }
    }

    #[test]
    fn an_event_observed_again_by_the_follower_keeps_a_map_computed_after_it() {
        let now = Timestamp::UNIX_EPOCH;
        for property in [Some(1), None] {
            let c = MapCache::default();
            c.start(10);
            // A page load caught up on event 11 itself and computed the map at head 11 ...
            c.observe(&event(
                11,
                "credential.created",
                property,
                serde_json::json!({}),
            ));
            c.put(11, LATER, map(1));
            assert!(c.get(PropertyId(1), Failure::PhoneGone, 11, now).is_some());
            // ... and the follower, behind, reads event 11 too.
            c.observe(&event(
                11,
                "credential.created",
                property,
                serde_json::json!({}),
            ));
            assert!(
                c.get(PropertyId(1), Failure::PhoneGone, 11, now).is_some(),
                "kept: it already shows event 11 ({property:?})"
            );
            c.observe(&event(
                12,
                "credential.created",
                property,
                serde_json::json!({}),
            ));
            assert!(
                c.get(PropertyId(1), Failure::PhoneGone, 12, now).is_none(),
                "a later change still makes it stale ({property:?})"
            );
        }
    }

    #[test]
    fn nothing_is_served_before_the_events_up_to_the_head_are_observed() {
        let c = MapCache::default();
        c.start(10);
        c.put(10, LATER, map(1));
        // Another process committed event 11; nobody has looked at it yet.
        assert!(
            c.get(PropertyId(1), Failure::PhoneGone, 11, Timestamp::UNIX_EPOCH)
                .is_none()
        );
    }

    #[test]
    fn a_map_computed_across_a_change_is_not_kept_and_time_ends_a_map() {
        let c = MapCache::default();
        c.start(10);
        // Computed after reading head 10, while event 11 changed the property.
        c.observe(&event(
            11,
            "credential.revoked",
            Some(1),
            serde_json::json!({}),
        ));
        c.put(10, LATER, map(1));
        assert!(
            c.get(PropertyId(1), Failure::PhoneGone, 11, Timestamp::UNIX_EPOCH)
                .is_none()
        );
        let until = Timestamp::UNIX_EPOCH + jiff::SignedDuration::from_hours(1);
        c.put(11, until, map(1));
        assert!(
            c.get(PropertyId(1), Failure::PhoneGone, 11, Timestamp::UNIX_EPOCH)
                .is_some()
        );
        assert!(
            c.get(PropertyId(1), Failure::PhoneGone, 11, until)
                .is_none()
        );
    }
}
