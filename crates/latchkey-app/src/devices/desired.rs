//! What a lock's PIN slot should hold for a credential, from the same `decide()` that answers
//! access checks: a PIN that would open the door now is enabled; one that is only paused
//! (outside its schedule, frozen, door in privacy or vacation mode) is disabled; one that will
//! never open again (revoked, expired, used up, holder moved out) is removed.
//!
//! latchkey keeps every PIN on the lock as an unrestricted user and switches it on and off
//! itself rather than pushing lock-side schedules, because a lock that loses or ignores a
//! schedule treats the user as unrestricted (it would fail open). The price, shown by the
//! readiness drill, is that during a server outage a PIN stays as it was at the last window edge.

use jiff::Timestamp;
use jiff::tz::TimeZone;
use latchkey_core::decide::{AccessRequest, Decision, DenyReason, DoorContext, decide};
use latchkey_core::model::{CredentialKind, Method};
use latchkey_store::devices::Desired;
use latchkey_store::records::{Credential, Door, Membership};

use crate::access::{holder_membership, rule_for_door};

/// The slot content for `c` on `door` at `now`; `Empty` for anything that is not a PIN.
pub(crate) fn desired_for(
    c: &Credential,
    memberships: &[Membership],
    door: &Door,
    tz: &TimeZone,
    now: Timestamp,
) -> Desired {
    if c.kind != CredentialKind::Pin {
        return Desired::Empty;
    }
    match keypad_decision(c, memberships, door, tz, now) {
        // A presence challenge is recognised and reported by the lock, and never opens.
        Decision::Granted { .. } if c.non_access => Desired::NonAccess,
        Decision::Granted { .. } => Desired::Enabled,
        Decision::Denied { reason } => match reason {
            DenyReason::Revoked
            | DenyReason::Expired
            | DenyReason::UsesExhausted
            | DenyReason::MembershipEnded
            | DenyReason::NotForThisDoor
            | DenyReason::StaffOnUnitDoor
            | DenyReason::UnknownCredential
            | DenyReason::WrongMethod
            | DenyReason::PhysicalKeyOnly => Desired::Empty,
            DenyReason::Frozen
            | DenyReason::NotYetValid
            | DenyReason::OutsideSchedule
            | DenyReason::MembershipNotStarted
            | DenyReason::PrivacyMode
            | DenyReason::VacationMode
            | DenyReason::RemoteDisabled
            | DenyReason::KeypadDisabled => Desired::Disabled,
        },
    }
}

/// What `decide()` says of `c` typed on `door`'s keypad at `now`, leaving out the keypad
/// lockout (the lock enforces its own; the server's copy of it must not remove PINs).
pub(crate) fn keypad_decision(
    c: &Credential,
    memberships: &[Membership],
    door: &Door,
    tz: &TimeZone,
    now: Timestamp,
) -> Decision {
    let rule = rule_for_door(c, holder_membership(memberships, c, now), tz, door.id);
    // The lock enforces its own wrong-code lockout; the server's copy of it must not remove PINs.
    let ctx = DoorContext {
        id: door.id,
        mode: door.mode,
        unit_entry: crate::access::is_unit_door(door),
        keypad_disabled_until: None,
    };
    decide(&AccessRequest {
        credential: Some(&rule),
        method: Method::Keypad,
        door: &ctx,
        at: now,
        tz,
        emergency_override: false,
    })
}
