//! The ways back in for a case, best first: each with whether it works right now and why not,
//! from the live state — the person's credentials and their schedules, the lock's last report,
//! the unit's sensors, who holds spare keys and is reachable, office hours and the on-call
//! roster, the verified locksmiths' hours.

use jiff::Timestamp;
use latchkey_core::model::{CredentialKind, CredentialStatus, SensorKind};
use latchkey_core::schedule::{Schedule, ScheduleCheck};
use latchkey_store::devices::Desired;
use latchkey_store::lockout::{self as repo, LockoutCase};
use latchkey_store::records::Door;
use latchkey_store::{credentials, devices, people, property, recovery};
use serde::Serialize;

use crate::devices::desired::desired_for;
use crate::directory::{load_property, time_zone};
use crate::{App, Result};

/// One way back in.
#[derive(Clone, Debug, Serialize)]
pub struct WayOption {
    /// `pin`, `phone_key`, `household`, `open_window`, `spare_key`, `staff`, `locksmith`,
    /// `physical_disassembly`, `physical`.
    pub way: &'static str,
    pub title: String,
    /// `None` before the case may be assessed (the general order only).
    pub available: Option<bool>,
    pub why_not: Option<String>,
    /// A warning to read before trying it.
    pub warning: Option<String>,
    /// Expected minutes until inside.
    pub minutes: u32,
    /// Expected cost, in the property's currency's smallest unit.
    pub cost_cents: i64,
    /// `none`, `minor` or `major`.
    pub damage: &'static str,
}

fn option(
    way: &'static str,
    title: &str,
    minutes: u32,
    cost_cents: i64,
    damage: &'static str,
) -> WayOption {
    WayOption {
        way,
        title: title.to_owned(),
        available: None,
        why_not: None,
        warning: None,
        minutes,
        cost_cents,
        damage,
    }
}

fn physical(
    way: &'static str,
    title: &str,
    minutes: u32,
    cost_cents: i64,
    damage: &'static str,
    warning: &str,
) -> WayOption {
    WayOption {
        warning: Some(warning.to_owned()),
        ..option(way, title, minutes, cost_cents, damage)
    }
}

/// The order every case starts from, before anything is known about the caller.
pub(crate) fn general_order() -> Vec<WayOption> {
    vec![
        option("pin", "Type your PIN on the keypad", 1, 0, "none"),
        option(
            "phone_key",
            "Sign in on any phone and open the door remotely",
            3,
            0,
            "none",
        ),
        option(
            "household",
            "A household member opens it remotely (they have been told)",
            10,
            0,
            "none",
        ),
        option(
            "open_window",
            "An open door or window of your unit",
            10,
            0,
            "none",
        ),
        option(
            "spare_key",
            "Your spare-key holders vouch for you and release a one-time PIN",
            20,
            0,
            "none",
        ),
        option(
            "staff",
            "The building manager or the on-call person opens it",
            30,
            0,
            "none",
        ),
        option("locksmith", "A verified locksmith", 60, 0, "none"),
        physical(
            "physical_disassembly",
            "Taking the lock apart from outside (a locksmith removes the cylinder or the keypad cover)",
            60,
            15_000,
            "minor",
            "the lock needs a new cylinder or cover afterwards, and the door stays unlocked until it is refitted",
        ),
        physical(
            "physical",
            "Breaking in (drilling the lock, breaking the knob, the door or a window)",
            30,
            60_000,
            "major",
            "afterwards the door is marked compromised, every PIN of it is replaced, and you should not sleep there until it is repaired",
        ),
    ]
}

/// Why a lock cannot be relied on to open for a code, from its last reports: jammed, flat,
/// or gone offline with a low battery (a lock whose battery dies stops reporting; Zigbee2MQTT
/// then marks it offline, and its last report is all there is to go on).
pub(super) fn lock_trouble(dev: &devices::Device) -> Option<String> {
    if dev.door_state == "error_jammed" || dev.lock_state == "not_fully_locked" {
        Some("the lock reports it is jammed".into())
    } else if dev.battery == Some(0) {
        Some("the lock's battery is empty".into())
    } else if dev.availability == "offline"
        && let Some(b) = dev.battery.filter(|b| *b <= crate::devices::LOW_BATTERY)
    {
        Some(format!(
            "the lock went offline with its battery at {b}%: the battery is probably empty"
        ))
    } else {
        None
    }
}

pub(super) fn inside(s: &Schedule, tz: &jiff::tz::TimeZone, at: Timestamp) -> bool {
    matches!(s, Schedule::Always) || s.compile(tz).check(at, tz) == ScheduleCheck::Inside
}

fn set(w: &mut WayOption, ok: bool, why_not: impl Into<String>) {
    w.available = Some(ok);
    w.why_not = (!ok).then(|| why_not.into());
}

impl App {
    /// The ways back in for `case`, assessed now and sorted: what works first, then by time,
    /// cost and damage.
    pub(crate) async fn ways_back_in(&self, case: &LockoutCase) -> Result<Vec<WayOption>> {
        let (Some(prop_id), Some(unit), Some(person)) =
            (case.property_id, case.unit_id, case.person_id)
        else {
            return Ok(general_order());
        };
        let now = self.now();
        let mut conn = self.store().read().await?;
        let prop = load_property(&mut conn, prop_id).await?;
        let tz = time_zone(&prop.timezone)?;
        let doors: Vec<Door> = property::list_doors(&mut conn, prop_id)
            .await?
            .into_iter()
            .filter(|d| d.unit_id == Some(unit))
            .collect();
        let mut lock_trouble_now: Option<String> = None;
        let mut lock_online = false;
        for d in &doors {
            if let Some(name) = &d.lock_name
                && let Some(dev) = devices::get_device(&mut conn, name).await?
            {
                lock_online |= dev.availability != "offline";
                if let Some(t) = lock_trouble(&dev) {
                    lock_trouble_now = Some(t);
                }
            }
        }
        let memberships = people::memberships_of(&mut conn, person).await?;
        let creds = credentials::list_credentials(&mut conn, prop_id, Some(person)).await?;
        let occupants = repo::occupants_of_unit(&mut conn, unit, now).await?;
        let mut household_phones = 0;
        for o in occupants.iter().filter(|o| o.person_id != person) {
            let theirs =
                credentials::list_credentials(&mut conn, prop_id, Some(o.person_id)).await?;
            if theirs.iter().any(|c| {
                c.kind == CredentialKind::PhoneKey
                    && c.status == CredentialStatus::Active
                    && doors.iter().any(|d| c.doors.contains(&d.id))
            }) {
                household_phones += 1;
            }
        }
        let sensors = property::list_sensors(&mut conn, prop_id).await?;
        let mut open_openings = Vec::new();
        for s in sensors.iter().filter(|s| s.unit_id == Some(unit)) {
            if let Some(name) = &s.device_name
                && let Some(dev) = devices::get_device(&mut conn, name).await?
                && dev.door_state == "open"
            {
                open_openings.push((s.name.clone(), s.kind, s.floor));
            }
        }
        let spare_keys = recovery::list_spare_keys(&mut conn, prop_id, Some(unit)).await?;
        let on_call = recovery::list_on_call(&mut conn, prop_id).await?;
        let locksmiths = recovery::list_locksmiths(&mut conn, prop_id).await?;
        let staff_openings_this_year =
            super::fees::staff_openings_in_year(&mut conn, prop_id, unit, now).await?;
        drop(conn);

        let mut ways = general_order();
        for w in &mut ways {
            match w.way {
                "pin" => {
                    let pins: Vec<_> = creds
                        .iter()
                        .filter(|c| c.kind == CredentialKind::Pin)
                        .collect();
                    let opens = pins.iter().any(|c| {
                        doors
                            .iter()
                            .any(|d| desired_for(c, &memberships, d, &tz, now) == Desired::Enabled)
                    });
                    let why = if let Some(t) = &lock_trouble_now {
                        t.clone()
                    } else if pins.is_empty() {
                        "you have no PIN for this door".into()
                    } else {
                        "none of your PINs opens this door right now (schedule, frozen, or door mode)".into()
                    };
                    set(w, opens && lock_trouble_now.is_none(), why);
                }
                "phone_key" => {
                    let has = creds.iter().any(|c| {
                        c.kind == CredentialKind::PhoneKey
                            && c.status == CredentialStatus::Active
                            && doors.iter().any(|d| c.doors.contains(&d.id))
                    });
                    let why = if !has {
                        "you have no phone key for this door"
                    } else {
                        "the lock is offline, so it cannot be opened remotely"
                    };
                    set(w, has && lock_online && lock_trouble_now.is_none(), why);
                }
                "household" => {
                    w.title = format!(
                        "A household member opens it remotely ({household_phones} with a phone key, told already)"
                    );
                    let why = if household_phones == 0 {
                        "nobody else in the household has a phone key"
                    } else {
                        "the lock is offline, so it cannot be opened remotely"
                    };
                    set(
                        w,
                        household_phones > 0 && lock_online && lock_trouble_now.is_none(),
                        why,
                    );
                }
                "open_window" => {
                    if let Some((name, kind, floor)) = open_openings.first() {
                        w.title = format!(
                            "The {} \"{name}\" of your unit is open",
                            if *kind == SensorKind::Window {
                                "window"
                            } else {
                                "door"
                            }
                        );
                        if *floor > 0 {
                            w.warning = Some(format!(
                                "it is on floor {floor}: do not climb; ask someone inside or the manager"
                            ));
                        }
                    }
                    set(
                        w,
                        !open_openings.is_empty(),
                        "no door or window sensor of your unit reports open",
                    );
                }
                "spare_key" => {
                    let reachable = spare_keys
                        .iter()
                        .filter(|k| k.status == "active" && inside(&k.reachable, &tz, now))
                        .count();
                    w.title = format!(
                        "Your spare-key holders vouch for you and release a one-time PIN ({reachable} reachable now)"
                    );
                    set(
                        w,
                        reachable > 0,
                        if spare_keys.iter().any(|k| k.status == "active") {
                            "no spare-key holder is usually reachable at this hour"
                        } else {
                            "nobody holds a spare key to your unit"
                        },
                    );
                }
                "staff" => {
                    let office = inside(&prop.office_hours, &tz, now);
                    let on_call_now = on_call.iter().any(|o| inside(&o.schedule, &tz, now));
                    w.title = if office {
                        "The building manager opens it (office hours)".into()
                    } else {
                        "The on-call person opens it".into()
                    };
                    // The lease's fee, unless a free lockout is left this year.
                    w.cost_cents = if staff_openings_this_year
                        < i64::from(prop.policy.free_lockouts_per_year)
                    {
                        0
                    } else if office {
                        i64::from(prop.policy.lockout_fee_office_cents)
                    } else {
                        i64::from(prop.policy.lockout_fee_after_hours_cents)
                    };
                    set(
                        w,
                        office || on_call_now,
                        "the office is closed and nobody is on call now",
                    );
                }
                "locksmith" => {
                    let open_now: Vec<_> = locksmiths
                        .iter()
                        .filter(|l| l.status == "verified" && inside(&l.hours, &tz, now))
                        .collect();
                    if let Some(cheapest) = open_now.iter().min_by_key(|l| l.callout_cents) {
                        w.cost_cents = cheapest.callout_cents;
                        w.title = match open_now.len() {
                            1 => format!("A verified locksmith ({})", cheapest.company),
                            n => format!(
                                "A verified locksmith ({} and {} more)",
                                cheapest.company,
                                n - 1
                            ),
                        };
                    }
                    if let Some(t) = &lock_trouble_now {
                        w.warning = Some(format!(
                            "{t}: no code can help, so the locksmith works on the lock (a 9 V battery jump where it has contacts, then picking)"
                        ));
                    }
                    set(
                        w,
                        !open_now.is_empty(),
                        "no verified locksmith works at this hour",
                    );
                }
                _ => set(w, true, ""),
            }
        }
        ways.sort_by_key(|w| {
            let damage = match w.damage {
                "none" => 0,
                "minor" => 1,
                _ => 2,
            };
            (w.available != Some(true), damage, w.minutes, w.cost_cents)
        });
        Ok(ways)
    }
}
