// Tests may unwrap: a panic is the failure report (unwrap is refused only on outside input).
#![allow(clippy::unwrap_used)]

use super::*;
use crate::schedule::Schedule;
use jiff::civil::date;
use proptest::prelude::*;

const DOOR: DoorId = DoorId(7);

fn at(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn rule(kind: CredentialKind) -> CredentialRule {
    CredentialRule {
        id: CredentialId(1),
        kind,
        status: CredentialStatus::Active,
        holder_role: Role::Resident,
        holder_from: None,
        holder_until: None,
        doors: vec![DoorId(3), DOOR, DoorId(9)],
        schedule: CompiledSchedule::always(),
        max_uses: None,
        uses: 0,
        duress: false,
    }
}

fn door(mode: DoorMode) -> DoorContext {
    DoorContext {
        id: DOOR,
        mode,
        unit_entry: false,
        keypad_disabled_until: None,
    }
}

fn run(
    cred: Option<&CredentialRule>,
    method: Method,
    door: &DoorContext,
    now: Timestamp,
) -> Decision {
    decide(&AccessRequest {
        credential: cred,
        method,
        door,
        at: now,
        tz: &TimeZone::UTC,
        emergency_override: false,
    })
}

fn denied(reason: DenyReason) -> Decision {
    Decision::Denied { reason }
}

const NOW: &str = "2026-05-01T12:00:00Z";

#[test]
fn a_valid_pin_opens_its_door_and_carries_duress() {
    let mut c = rule(CredentialKind::Pin);
    let d = door(DoorMode::Normal);
    assert_eq!(
        run(Some(&c), Method::Keypad, &d, at(NOW)),
        Decision::Granted { duress: false }
    );
    c.duress = true;
    let got = run(Some(&c), Method::Keypad, &d, at(NOW));
    assert_eq!(got, Decision::Granted { duress: true });
    assert!(got.is_granted());
}

#[test]
fn a_staff_credential_never_opens_a_units_entry_door_even_in_an_emergency() {
    let unit_door = DoorContext {
        unit_entry: true,
        ..door(DoorMode::Normal)
    };
    let mut c = rule(CredentialKind::PhoneKey);
    assert!(
        run(Some(&c), Method::Remote, &unit_door, at(NOW)).is_granted(),
        "the unit's resident opens it"
    );
    for staff in [Role::Manager, Role::Installer, Role::Locksmith] {
        c.holder_role = staff;
        assert_eq!(
            run(Some(&c), Method::Remote, &unit_door, at(NOW)),
            denied(DenyReason::StaffOnUnitDoor)
        );
        let privacy = DoorContext {
            mode: DoorMode::Privacy,
            ..unit_door.clone()
        };
        let emergency = decide(&AccessRequest {
            credential: Some(&c),
            method: Method::Remote,
            door: &privacy,
            at: at(NOW),
            tz: &TimeZone::UTC,
            emergency_override: true,
        });
        assert_eq!(emergency, denied(DenyReason::StaffOnUnitDoor));
        assert!(
            run(Some(&c), Method::Remote, &door(DoorMode::Normal), at(NOW)).is_granted(),
            "staff still open the building's shared doors"
        );
    }
    c.doors = vec![DoorId(3)];
    assert_eq!(
        run(Some(&c), Method::Remote, &unit_door, at(NOW)),
        denied(DenyReason::NotForThisDoor),
        "a door the credential does not list is reported as such first"
    );
}

#[test]
fn each_rule_gives_its_reason() {
    let d = door(DoorMode::Normal);
    let now = at(NOW);
    assert_eq!(
        run(None, Method::Keypad, &d, now),
        denied(DenyReason::UnknownCredential)
    );
    let pk = rule(CredentialKind::PhysicalKey);
    assert_eq!(
        run(Some(&pk), Method::PhysicalKey, &d, now),
        denied(DenyReason::PhysicalKeyOnly)
    );
    let pin = rule(CredentialKind::Pin);
    assert_eq!(
        run(Some(&pin), Method::Rfid, &d, now),
        denied(DenyReason::WrongMethod)
    );
    let other = DoorContext {
        id: DoorId(8),
        ..door(DoorMode::Normal)
    };
    assert_eq!(
        run(Some(&pin), Method::Keypad, &other, now),
        denied(DenyReason::NotForThisDoor)
    );

    let mut m = rule(CredentialKind::Pin);
    m.holder_from = Some(now);
    assert!(
        run(Some(&m), Method::Keypad, &d, now).is_granted(),
        "from is inclusive"
    );
    m.holder_from = Some(at("2026-05-01T12:00:01Z"));
    assert_eq!(
        run(Some(&m), Method::Keypad, &d, now),
        denied(DenyReason::MembershipNotStarted)
    );
    m.holder_from = None;
    m.holder_until = Some(now);
    assert_eq!(
        run(Some(&m), Method::Keypad, &d, now),
        denied(DenyReason::MembershipEnded)
    );

    let mut s = rule(CredentialKind::Pin);
    let from = date(2026, 5, 2).at(0, 0, 0, 0);
    let until = date(2026, 5, 3).at(0, 0, 0, 0);
    s.schedule = Schedule::DateRange { from, until }.compile(&TimeZone::UTC);
    assert_eq!(
        run(Some(&s), Method::Keypad, &d, now),
        denied(DenyReason::NotYetValid)
    );
    assert_eq!(
        run(Some(&s), Method::Keypad, &d, at("2026-05-03T00:00:00Z")),
        denied(DenyReason::Expired)
    );
    s.schedule = Schedule::Weekly {
        windows: vec![crate::schedule::WeeklyWindow {
            days: vec![crate::schedule::Day::Sat],
            start: jiff::civil::time(9, 0, 0, 0),
            end: jiff::civil::time(17, 0, 0, 0),
        }],
    }
    .compile(&TimeZone::UTC);
    assert_eq!(
        run(Some(&s), Method::Keypad, &d, now),
        denied(DenyReason::OutsideSchedule)
    );
    assert!(run(Some(&s), Method::Keypad, &d, at("2026-05-02T12:00:00Z")).is_granted());

    let mut k = rule(CredentialKind::Pin);
    let mut locked = door(DoorMode::Normal);
    locked.keypad_disabled_until = Some(at("2026-05-01T12:01:00Z"));
    assert_eq!(
        run(Some(&k), Method::Keypad, &locked, now),
        denied(DenyReason::KeypadDisabled)
    );
    assert!(
        run(
            Some(&k),
            Method::Keypad,
            &locked,
            at("2026-05-01T12:01:00Z")
        )
        .is_granted()
    );
    k.kind = CredentialKind::RfidCard;
    assert!(
        run(Some(&k), Method::Rfid, &locked, now).is_granted(),
        "cards still work"
    );
}

#[test]
fn every_reason_has_a_stable_name_and_a_sentence() {
    for r in DenyReason::ALL {
        let json = serde_json::to_string(r).unwrap();
        assert_eq!(json, format!("\"{}\"", r.as_str()));
        assert!(r.message().len() > 15);
        let back: DenyReason = serde_json::from_str(&json).unwrap();
        assert_eq!(back, *r);
    }
    assert_eq!(DenyReason::ALL.len(), 17);
    let d = serde_json::to_value(Decision::Denied {
        reason: DenyReason::PrivacyMode,
    })
    .unwrap();
    assert_eq!(
        d,
        serde_json::json!({"decision": "denied", "reason": "privacy_mode"})
    );
    let g = serde_json::to_value(Decision::Granted { duress: true }).unwrap();
    assert_eq!(
        g,
        serde_json::json!({"decision": "granted", "duress": true})
    );
    assert!(
        DenyReason::KeypadDisabled
            .message()
            .contains("try again later")
    );
}

/// An independent restatement of the documented order, for the exhaustive check.
fn expected(
    status: CredentialStatus,
    kind: CredentialKind,
    method: Method,
    mode: DoorMode,
    role: Role,
    emergency: bool,
    keypad_disabled: bool,
) -> Decision {
    let staff = emergency && matches!(role, Role::Installer | Role::Manager);
    let reason = if status == CredentialStatus::Revoked {
        Some(DenyReason::Revoked)
    } else if status == CredentialStatus::Frozen {
        Some(DenyReason::Frozen)
    } else if kind == CredentialKind::PhysicalKey {
        Some(DenyReason::PhysicalKeyOnly)
    } else if kind.method() != method {
        Some(DenyReason::WrongMethod)
    } else if mode == DoorMode::Privacy && !staff {
        Some(DenyReason::PrivacyMode)
    } else if mode == DoorMode::Vacation && !matches!(role, Role::Resident | Role::Household) {
        Some(DenyReason::VacationMode)
    } else if mode == DoorMode::NoRemote && method == Method::Remote && !staff {
        Some(DenyReason::RemoteDisabled)
    } else if method == Method::Keypad && keypad_disabled {
        Some(DenyReason::KeypadDisabled)
    } else {
        None
    };
    reason.map_or(Decision::Granted { duress: false }, denied)
}

const METHODS: &[Method] = &[
    Method::Keypad,
    Method::Rfid,
    Method::Remote,
    Method::PhysicalKey,
];

#[test]
fn every_mode_method_status_and_role_gives_the_reason_the_order_predicts() {
    let now = at(NOW);
    let mut n = 0;
    for &status in CredentialStatus::ALL {
        for &kind in CredentialKind::ALL {
            for &method in METHODS {
                for &mode in DoorMode::ALL {
                    for &role in Role::ALL {
                        for emergency in [false, true] {
                            for keypad_disabled in [false, true] {
                                let mut c = rule(kind);
                                c.status = status;
                                c.holder_role = role;
                                let mut d = door(mode);
                                if keypad_disabled {
                                    d.keypad_disabled_until = Some(at("2026-05-01T12:00:30Z"));
                                }
                                let got = decide(&AccessRequest {
                                    credential: Some(&c),
                                    method,
                                    door: &d,
                                    at: now,
                                    tz: &TimeZone::UTC,
                                    emergency_override: emergency,
                                });
                                let want = expected(
                                    status,
                                    kind,
                                    method,
                                    mode,
                                    role,
                                    emergency,
                                    keypad_disabled,
                                );
                                assert_eq!(
                                    got, want,
                                    "{status:?} {kind:?} {method:?} {mode:?} {role:?} {emergency} {keypad_disabled}"
                                );
                                n += 1;
                            }
                        }
                    }
                }
            }
        }
    }
    assert_eq!(n, 3 * 4 * 4 * 5 * 7 * 2 * 2);
}

fn arb_status() -> impl Strategy<Value = CredentialStatus> {
    prop::sample::select(CredentialStatus::ALL.to_vec())
}
fn arb_kind() -> impl Strategy<Value = CredentialKind> {
    prop::sample::select(CredentialKind::ALL.to_vec())
}
fn arb_mode() -> impl Strategy<Value = DoorMode> {
    prop::sample::select(DoorMode::ALL.to_vec())
}
fn arb_role() -> impl Strategy<Value = Role> {
    prop::sample::select(Role::ALL.to_vec())
}
fn arb_method() -> impl Strategy<Value = Method> {
    prop::sample::select(METHODS.to_vec())
}

prop_compose! {
    fn arb_rule()(
        kind in arb_kind(), status in arb_status(), role in arb_role(),
        from in prop::option::of(1_760_000_000i64..1_800_000_000),
        len in 0i64..50_000_000,
        doors in prop::collection::btree_set(0i64..12, 0..6),
        max_uses in prop::option::of(0u32..5), uses in 0u32..6, duress in any::<bool>(),
        weekly in any::<bool>(),
    ) -> CredentialRule {
        let schedule = if weekly {
            Schedule::Weekly { windows: vec![crate::schedule::WeeklyWindow {
                days: vec![crate::schedule::Day::Mon, crate::schedule::Day::Thu],
                start: jiff::civil::time(8, 0, 0, 0),
                end: jiff::civil::time(18, 0, 0, 0),
            }] }.compile(&TimeZone::UTC)
        } else {
            CompiledSchedule::always()
        };
        CredentialRule {
            id: CredentialId(5), kind, status, holder_role: role,
            holder_from: from.map(|s| Timestamp::from_second(s).unwrap()),
            holder_until: from.map(|s| Timestamp::from_second(s + len).unwrap()),
            doors: doors.into_iter().map(DoorId).collect(),
            schedule, max_uses, uses, duress,
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn decisions_obey_the_invariants(
        cred in arb_rule(), method in arb_method(), mode in arb_mode(),
        door_id in 0i64..12, now_s in 1_750_000_000i64..1_810_000_000,
        disabled in prop::option::of(1_750_000_000i64..1_810_000_000),
        emergency in any::<bool>(), unit_entry in any::<bool>(),
    ) {
        let d = DoorContext {
            id: DoorId(door_id), mode, unit_entry,
            keypad_disabled_until: disabled.map(|s| Timestamp::from_second(s).unwrap()),
        };
        let req = AccessRequest {
            credential: Some(&cred), method, door: &d,
            at: Timestamp::from_second(now_s).unwrap(), tz: &TimeZone::UTC,
            emergency_override: emergency,
        };
        let got = decide(&req);
        prop_assert_eq!(got, decide(&req), "deterministic");
        let staff_override = emergency && cred.holder_role.is_staff();
        if got.is_granted() {
            prop_assert_eq!(cred.status, CredentialStatus::Active);
            prop_assert!(mode != DoorMode::Privacy || staff_override);
            prop_assert!(!(mode == DoorMode::NoRemote && method == Method::Remote) || staff_override);
            prop_assert!(mode != DoorMode::Vacation
                || matches!(cred.holder_role, Role::Resident | Role::Household));
            prop_assert!(cred.max_uses.is_none_or(|m| cred.uses < m));
            prop_assert!(cred.doors.contains(&d.id));
            prop_assert!(!(unit_entry && cred.holder_role.is_property_wide()), "staff never open a unit's door");
            prop_assert_eq!(got, Decision::Granted { duress: cred.duress });
        }
        match cred.status {
            CredentialStatus::Revoked => prop_assert_eq!(got, denied(DenyReason::Revoked)),
            CredentialStatus::Frozen => prop_assert_eq!(got, denied(DenyReason::Frozen)),
            CredentialStatus::Active => {}
        }
        prop_assert_eq!(run(None, method, &d, req.at), denied(DenyReason::UnknownCredential));
    }

    #[test]
    fn uses_are_granted_exactly_while_below_the_limit(max in 0u32..20, uses in 0u32..25) {
        let mut c = rule(CredentialKind::RfidCard);
        c.max_uses = Some(max);
        c.uses = uses;
        let got = run(Some(&c), Method::Rfid, &door(DoorMode::Normal), at(NOW));
        if uses < max {
            prop_assert!(got.is_granted());
        } else {
            prop_assert_eq!(got, denied(DenyReason::UsesExhausted));
        }
    }
}
