//! What a person wants to hear, and how: the channels per notification kind and quiet hours.
//! The rule, in order:
//!
//! 1. A kind the person named gets the channels they listed for it; any other kind gets their
//!    `default_channels` (e-mail and push when they set nothing: push reaches only the
//!    browsers the person turned notifications on in, so it is nothing until they do).
//! 2. A **security notice** ([`is_security_notice`]: forced entry, a staff opening, a change of
//!    credentials in a lockout case, a guardian request, …) always goes out: a person cannot
//!    give it no channel, quiet hours do not hold it back, and when the channels chosen for it
//!    reach nobody (push chosen, no browser subscribed) it goes by e-mail.
//! 3. Anything else waits out the person's quiet hours: its first attempt is at their end.

use std::collections::BTreeMap;

use jiff::Timestamp;
use jiff::civil::Time;
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};

use crate::{AppError, Result};

/// A way to reach a person. Webhooks slot in here (with a target per endpoint in the delivery
/// row).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Email,
    /// Web Push to each browser the person turned notifications on in (one delivery per
    /// subscription, its id the delivery's target).
    Push,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Push => "push",
        }
    }

    pub fn parse(s: &str) -> Option<Channel> {
        match s {
            "email" => Some(Channel::Email),
            "push" => Some(Channel::Push),
            _ => None,
        }
    }
}

/// Kinds told to a person whatever their preferences say.
const SECURITY_KINDS: &[&str] = &[
    "alarm.security",
    "credential.rotated",
    "credential.frozen",
    "door.compromised",
    "door.repair_needed",
    "entry_notice.opened",
    "lock.emergency_command",
    "lock.unexpected_opening",
    "email_changed",
];

/// Whether a notice of `kind` always goes through: everything about a lockout case (someone
/// claims to live in your home, a guardian request, a spare or new PIN, a staff opening), a
/// forced entry and what follows from it, a staff opening or an unexpected opening of your
/// door, and a change of your sign-in address.
pub fn is_security_notice(kind: &str) -> bool {
    kind.starts_with("lockout.") || SECURITY_KINDS.contains(&kind)
}

/// Quiet hours in the person's time zone. `from` after `until` spans midnight.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuietHours {
    /// `HH:MM`
    pub from: String,
    /// `HH:MM`
    pub until: String,
    /// An IANA time zone, e.g. `Europe/Berlin`.
    pub timezone: String,
}

/// A person's preferences, as stored and as the API shows them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Preferences {
    pub default_channels: Vec<Channel>,
    /// Channels per notification kind (e.g. `"door.mode_changed": []` to hear nothing of it).
    pub kinds: BTreeMap<String, Vec<Channel>>,
    pub quiet_hours: Option<QuietHours>,
}

impl Default for Preferences {
    fn default() -> Self {
        Preferences {
            default_channels: vec![Channel::Email, Channel::Push],
            kinds: BTreeMap::new(),
            quiet_hours: None,
        }
    }
}

fn time_of(field: &str, s: &str) -> Result<Time> {
    let bad = || AppError::invalid(field, "a time of day as HH:MM, e.g. 22:00");
    let (h, m) = s.split_once(':').ok_or_else(bad)?;
    if h.len() != 2 || m.len() != 2 || !(h.bytes().chain(m.bytes())).all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let h: i8 = h.parse().map_err(|_| bad())?;
    let m: i8 = m.parse().map_err(|_| bad())?;
    Time::new(h, m, 0, 0).map_err(|_| bad())
}

fn valid_kind(kind: &str) -> bool {
    !kind.is_empty()
        && kind.len() <= 64
        && kind
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b == b'_' || b == b'.')
        && !kind.starts_with('.')
        && !kind.ends_with('.')
}

impl Preferences {
    /// Checks a body a person sent; says which field is wrong and how.
    ///
    /// # Errors
    /// `Invalid` naming the field.
    pub fn validate(&self) -> Result<()> {
        if self.kinds.len() > 100 {
            return Err(AppError::invalid("kinds", "at most 100 kinds"));
        }
        for dup in [&self.default_channels]
            .into_iter()
            .chain(self.kinds.values())
        {
            let mut seen = dup.clone();
            seen.sort_unstable();
            seen.dedup();
            if seen.len() != dup.len() {
                return Err(AppError::invalid("kinds", "name each channel once"));
            }
        }
        for (kind, channels) in &self.kinds {
            if !valid_kind(kind) {
                return Err(AppError::invalid(
                    format!("kinds.{kind}"),
                    "a notification kind such as `door.mode_changed` (lower case, dots, underscores)",
                ));
            }
            if channels.is_empty() && is_security_notice(kind) {
                return Err(AppError::invalid(
                    format!("kinds.{kind}"),
                    "this is a security notice and always goes out: choose at least one channel",
                ));
            }
        }
        if let Some(q) = &self.quiet_hours {
            let from = time_of("quiet_hours.from", &q.from)?;
            let until = time_of("quiet_hours.until", &q.until)?;
            if from == until {
                return Err(AppError::invalid(
                    "quiet_hours.until",
                    "must differ from `from` (leave quiet_hours out for none)",
                ));
            }
            TimeZone::get(&q.timezone).map_err(|_| {
                AppError::invalid(
                    "quiet_hours.timezone",
                    "an IANA time zone such as Europe/Berlin",
                )
            })?;
        }
        Ok(())
    }

    /// The channels a notice of `kind` goes through (rule steps 1 and 2).
    pub fn channels_for(&self, kind: &str) -> Vec<Channel> {
        let chosen = self
            .kinds
            .get(kind)
            .unwrap_or(&self.default_channels)
            .clone();
        if chosen.is_empty() && is_security_notice(kind) {
            vec![Channel::Email]
        } else {
            chosen
        }
    }

    /// When a notice of `kind` created at `now` may first be sent (rule step 3): `now`, or the
    /// end of the quiet hours it falls in.
    pub fn first_attempt(&self, kind: &str, now: Timestamp) -> Timestamp {
        let Some(q) = &self.quiet_hours else {
            return now;
        };
        if is_security_notice(kind) {
            return now;
        }
        let (Ok(from), Ok(until), Ok(tz)) = (
            time_of("from", &q.from),
            time_of("until", &q.until),
            TimeZone::get(&q.timezone),
        ) else {
            return now;
        };
        let local = now.to_zoned_datetime(tz.clone());
        let t = local.time();
        let quiet = if from < until {
            t >= from && t < until
        } else {
            t >= from || t < until
        };
        if !quiet {
            return now;
        }
        let mut day = local.date();
        if t >= until {
            day = day.tomorrow().unwrap_or(day);
        }
        day.to_datetime(until)
            .to_zoned_datetime(tz)
            .map(|z| z.timestamp())
            .unwrap_or(now)
    }
}

impl crate::App {
    /// The caller's preferences (the defaults when they set none).
    ///
    /// # Errors
    /// Storage failed.
    pub async fn my_notification_preferences(
        &self,
        me: crate::authz::OwnAccount<'_>,
    ) -> Result<Preferences> {
        let mut conn = self.store().read().await?;
        self.preferences_of(&mut conn, me.principal().id()).await
    }

    /// Replaces the caller's preferences after checking them ([`Preferences::validate`]);
    /// nothing is written when they are wrong.
    ///
    /// # Errors
    /// `Invalid` naming the field; storage failed.
    pub async fn set_my_notification_preferences(
        &self,
        me: crate::authz::OwnAccount<'_>,
        prefs: Preferences,
    ) -> Result<Preferences> {
        prefs.validate()?;
        let body = serde_json::to_value(&prefs)
            .map_err(|e| AppError::Internal(format!("preferences: {e}")))?;
        let mut tx = self.store().write().await?;
        latchkey_store::outbox::set_preferences(tx.conn(), me.principal().id(), &body, self.now())
            .await?;
        let ev = latchkey_store::audit::NewEvent::new(
            "person.notification_preferences_changed",
            format!("person:{}", me.principal().id().0),
        )
        .actor(Some(me.principal().id()));
        self.commit_with(tx, vec![ev]).await?;
        Ok(prefs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quiet() -> Preferences {
        Preferences {
            quiet_hours: Some(QuietHours {
                from: "22:00".into(),
                until: "07:00".into(),
                timezone: "Europe/Berlin".into(),
            }),
            ..Preferences::default()
        }
    }

    fn berlin(h: i8, m: i8) -> Timestamp {
        jiff::civil::date(2026, 1, 5)
            .at(h, m, 0, 0)
            .in_tz("Europe/Berlin")
            .map(|z| z.timestamp())
            .unwrap_or_default()
    }

    #[test]
    fn what_can_wait_waits_for_the_end_of_quiet_hours() {
        let p = quiet();
        assert_eq!(
            p.first_attempt("door.mode_changed", berlin(23, 30)),
            berlin(7, 0) + jiff::SignedDuration::from_hours(24)
        );
        assert_eq!(
            p.first_attempt("door.mode_changed", berlin(6, 10)),
            berlin(7, 0)
        );
        assert_eq!(
            p.first_attempt("door.mode_changed", berlin(12, 0)),
            berlin(12, 0)
        );
    }

    #[test]
    fn security_notices_ignore_quiet_hours_and_cannot_be_silenced() {
        let mut p = quiet();
        assert_eq!(
            p.first_attempt("lockout.guardian_request", berlin(23, 30)),
            berlin(23, 30)
        );
        assert_eq!(
            p.first_attempt("credential.rotated", berlin(3, 0)),
            berlin(3, 0)
        );
        p.default_channels = vec![];
        assert!(p.channels_for("door.mode_changed").is_empty());
        assert_eq!(p.channels_for("door.compromised"), vec![Channel::Email]);
        p.kinds.insert("lockout.opened".into(), vec![]);
        assert!(
            matches!(p.validate(), Err(AppError::Invalid { field, .. }) if field == "kinds.lockout.opened")
        );
    }
}
