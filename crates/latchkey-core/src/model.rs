//! The things latchkey manages (docs/ARCHITECTURE.md), as plain data.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A string did not name any variant of an enum of the model.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{value}` is not a valid {what}; expected one of: {expected}")]
pub struct UnknownVariant {
    pub what: &'static str,
    pub value: String,
    pub expected: &'static str,
}

/// Declares a plain enum whose variants have stable snake_case names, used alike in JSON,
/// in the database and on the command line.
macro_rules! named_enum {
    ($(#[$doc:meta])* $name:ident, $what:literal { $($(#[$vdoc:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vdoc])* #[serde(rename = $text)] $variant),+
        }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stable name of this variant.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = UnknownVariant;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err(UnknownVariant {
                        what: $what,
                        value: s.to_owned(),
                        expected: concat!($($text, " "),+),
                    }),
                }
            }
        }
    };
}

named_enum!(
    /// What a membership lets a person do (docs/ARCHITECTURE.md).
    Role, "role" {
        /// Installer / admin of the property: everything, every action audited.
        Installer => "installer",
        /// Building manager or on-call staff.
        Manager => "manager",
        /// Tenant or owner of a unit.
        Resident => "resident",
        /// Roommate, partner, child of a unit.
        Household => "household",
        /// Holds a spare key; nothing by default.
        TrustedContact => "trusted_contact",
        /// Cleaner, dog walker, visitor: limited by schedule.
        Guest => "guest",
        /// A vendor registered with the property.
        Locksmith => "locksmith",
    }
);

impl Role {
    /// Roles held at the level of a whole property rather than of one unit.
    pub fn is_property_wide(self) -> bool {
        matches!(self, Role::Installer | Role::Manager | Role::Locksmith)
    }

    /// The people who live in a unit: its residents and household members (vacation mode
    /// admits only them).
    pub fn is_household(self) -> bool {
        matches!(self, Role::Resident | Role::Household)
    }

    /// Roles that manage the building (doors, devices, memberships, policies).
    pub fn is_staff(self) -> bool {
        matches!(self, Role::Installer | Role::Manager)
    }
}

named_enum!(
    /// What a door is for.
    DoorKind, "door kind" {
        UnitEntry => "unit_entry",
        BuildingEntrance => "building_entrance",
        Amenity => "amenity",
        Garage => "garage",
        BackDoor => "back_door",
    }
);

named_enum!(
    /// Operating mode of a door, after the Matter door-lock cluster's OperatingModeEnum.
    DoorMode, "door mode" {
        /// Every valid credential works.
        Normal => "normal",
        /// Only the household (residents and household members) may open it: guests, trusted
        /// contacts and staff may not.
        Vacation => "vacation",
        /// Someone is inside and wants nobody in: every outside opening is refused, except an
        /// audited emergency override by staff.
        Privacy => "privacy",
        /// Held unlocked.
        Passage => "passage",
        /// Remote commands are refused; keypad and cards work.
        NoRemote => "no_remote",
    }
);

named_enum!(
    /// The kinds of credential.
    CredentialKind, "credential kind" {
        /// Right to unlock remotely, bound to the holder's login.
        PhoneKey => "phone_key",
        /// 4–8 digit keypad code.
        Pin => "pin",
        /// RFID card or fob.
        RfidCard => "rfid_card",
        /// A record of who holds which physical key copy; never decided electronically.
        PhysicalKey => "physical_key",
    }
);

named_enum!(
    /// Life cycle of a credential.
    CredentialStatus, "credential status" {
        Active => "active",
        /// Frozen at once by a household member or spare-key holder (lost phone or card).
        Frozen => "frozen",
        /// Permanently withdrawn.
        Revoked => "revoked",
    }
);

named_enum!(
    /// How a person presents a credential at a door.
    Method, "access method" {
        Keypad => "keypad",
        Rfid => "rfid",
        Remote => "remote",
        PhysicalKey => "physical_key",
    }
);

impl CredentialKind {
    /// The way this kind of credential is presented at a door.
    pub fn method(self) -> Method {
        match self {
            CredentialKind::PhoneKey => Method::Remote,
            CredentialKind::Pin => Method::Keypad,
            CredentialKind::RfidCard => Method::Rfid,
            CredentialKind::PhysicalKey => Method::PhysicalKey,
        }
    }
}

named_enum!(
    /// Opening sensors.
    SensorKind, "sensor kind" {
        DoorContact => "door_contact",
        Window => "window",
    }
);

named_enum!(
    /// What can prove a locked-out person is who they say (docs/LOCKOUT.md).
    ProofKind, "proof kind" {
        /// A WebAuthn assertion with the resident's passkey.
        Passkey => "passkey",
        /// A current code from the resident's authenticator app (RFC 6238).
        Totp => "totp",
        /// Enough guardians (household members, trusted contacts) confirmed.
        Guardians => "guardians",
        /// A manager checked an identity document in person.
        IdCheck => "id_check",
        /// A single-use code from the resident's printed recovery card.
        RecoveryCode => "recovery_code",
        /// The person typed a one-time challenge code on the unit's keypad: an extra factor
        /// (see [`Policy::require_presence`]), never a proof on its own.
        Presence => "presence",
    }
);

named_enum!(
    /// Who pays a charge: the lease decides (docs/LOCKOUT.md; most leases say the tenant).
    Payer, "payer" {
        Tenant => "tenant",
        Landlord => "landlord",
    }
);

/// Per-property policy. Every field has a default so that an empty JSON object is a valid policy.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Policy {
    /// Wrong codes in a row before a lock disables its keypad.
    pub wrong_code_limit: u8,
    /// How long the keypad stays disabled after the limit is reached, in seconds.
    pub keypad_disable_seconds: u32,
    /// Seconds after which an unlocked door locks itself again (0 = never).
    pub auto_relock_seconds: u32,
    /// Minutes a door may stay open or unlocked before an alert.
    pub door_ajar_minutes: u32,
    /// Whether PIN slots programmed at a keypad (not by latchkey) are cleared.
    pub clear_unmanaged_codes: bool,
    /// Any one of these proves a locked-out person's identity; until one is given, no door
    /// opens and no code is released.
    pub recovery_proofs: Vec<ProofKind>,
    /// How many guardians must confirm for the `guardians` proof.
    pub guardians_required: u8,
    /// The lease's lockout fee when staff open the door during office hours, in cents.
    pub lockout_fee_office_cents: u32,
    /// The same outside office hours (the on-call person's opening).
    pub lockout_fee_after_hours_cents: u32,
    /// Lockouts per unit in any 12 months that cost nothing.
    pub free_lockouts_per_year: u8,
    /// Who pays a locksmith's bill when the equipment was not at fault.
    pub locksmith_paid_by: Payer,
    /// Minutes a one-time PIN released from a spare key stays valid.
    pub one_time_pin_minutes: u16,
    /// Whether a case is proven only once the person has also typed a challenge code on the
    /// unit's keypad (presence at the door), on top of one of `recovery_proofs`.
    pub require_presence: bool,
    /// Minutes a new credential asked for in a lockout case waits, so that anyone in the
    /// household can cancel it; none when the case was proven with the person's own passkey
    /// or authenticator.
    pub credential_change_delay_minutes: u32,
    /// Hours before an entry notice's window starts by which the unit's household must have
    /// been told: staff reach a unit's door only through such a notice or an emergency.
    pub entry_notice_hours: u32,
    /// Days a personal access event (someone opened, locked or unlocked a door, typed a code)
    /// keeps who and how; after that it is redacted (docs/OPERATIONS.md, "Privacy").
    pub personal_event_retention_days: u32,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            wrong_code_limit: 5,
            keypad_disable_seconds: 60,
            auto_relock_seconds: 30,
            door_ajar_minutes: 10,
            clear_unmanaged_codes: true,
            recovery_proofs: vec![
                ProofKind::Passkey,
                ProofKind::Totp,
                ProofKind::RecoveryCode,
                ProofKind::IdCheck,
            ],
            guardians_required: 2,
            lockout_fee_office_cents: 2_500,
            lockout_fee_after_hours_cents: 7_500,
            free_lockouts_per_year: 1,
            locksmith_paid_by: Payer::Tenant,
            one_time_pin_minutes: 15,
            require_presence: false,
            credential_change_delay_minutes: 60,
            entry_notice_hours: 24,
            personal_event_retention_days: 90,
        }
    }
}

impl Policy {
    /// Checks ranges a lock can actually hold.
    ///
    /// # Errors
    /// A sentence naming the field that is out of range and the allowed range.
    pub fn validate(&self) -> Result<(), String> {
        if !(1..=20).contains(&self.wrong_code_limit) {
            return Err("wrong_code_limit must be between 1 and 20".into());
        }
        if !(1..=86_400).contains(&self.keypad_disable_seconds) {
            return Err("keypad_disable_seconds must be between 1 and 86400".into());
        }
        if self.auto_relock_seconds > 3_600 {
            return Err("auto_relock_seconds must be at most 3600 (0 disables auto-relock)".into());
        }
        if !(1..=1_440).contains(&self.door_ajar_minutes) {
            return Err("door_ajar_minutes must be between 1 and 1440".into());
        }
        if !(1..=10).contains(&self.guardians_required) {
            return Err("guardians_required must be between 1 and 10".into());
        }
        if self.lockout_fee_office_cents > 1_000_000
            || self.lockout_fee_after_hours_cents > 1_000_000
        {
            return Err("lockout fees must be between 0 and 1000000 cents".into());
        }
        if self.free_lockouts_per_year > 52 {
            return Err("free_lockouts_per_year must be between 0 and 52".into());
        }
        if !(1..=240).contains(&self.one_time_pin_minutes) {
            return Err("one_time_pin_minutes must be between 1 and 240".into());
        }
        if self.credential_change_delay_minutes > 10_080 {
            return Err(
                "credential_change_delay_minutes must be between 0 and 10080 (a week)".into(),
            );
        }
        if !(1..=720).contains(&self.entry_notice_hours) {
            return Err("entry_notice_hours must be between 1 and 720 (30 days)".into());
        }
        if !(1..=3_650).contains(&self.personal_event_retention_days) {
            return Err(
                "personal_event_retention_days must be between 1 and 3650 (ten years)".into(),
            );
        }
        if self.recovery_proofs.contains(&ProofKind::Presence) {
            return Err(
                "presence is an extra factor, not a proof on its own: set require_presence instead"
                    .into(),
            );
        }
        if self.recovery_proofs.is_empty() {
            return Err(
                "recovery_proofs must name at least one proof (passkey, totp, guardians, id_check)"
                    .into(),
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variant_round_trips_through_its_name() {
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>(), Ok(*r));
        }
        for m in DoorMode::ALL {
            assert_eq!(m.as_str().parse::<DoorMode>(), Ok(*m));
        }
    }

    #[test]
    fn an_unknown_name_says_what_is_allowed() {
        let err = "owner".parse::<Role>().unwrap_err();
        assert!(err.to_string().contains("resident"), "{err}");
    }

    #[test]
    fn an_empty_policy_is_the_default_and_valid() {
        let p: Policy = serde_json::from_str("{}").unwrap();
        assert_eq!(p, Policy::default());
        assert!(p.validate().is_ok());
        let bad: Result<Policy, _> = serde_json::from_str(r#"{"wrong_code_limt":3}"#);
        assert!(bad.is_err(), "typos in policy keys must be refused");
    }

    #[test]
    fn presence_is_an_extra_factor_and_fees_and_code_minutes_have_ranges() {
        let alone: Policy = serde_json::from_str(r#"{"recovery_proofs":["presence"]}"#).unwrap();
        assert!(alone.validate().unwrap_err().contains("require_presence"));
        let fee: Policy = serde_json::from_str(r#"{"lockout_fee_office_cents":1000001}"#).unwrap();
        assert!(fee.validate().is_err());
        let minutes: Policy = serde_json::from_str(r#"{"one_time_pin_minutes":0}"#).unwrap();
        assert!(
            minutes
                .validate()
                .unwrap_err()
                .contains("one_time_pin_minutes")
        );
        let landlord: Policy = serde_json::from_str(r#"{"locksmith_paid_by":"landlord"}"#).unwrap();
        assert_eq!(landlord.locksmith_paid_by, Payer::Landlord);
        assert!(serde_json::from_str::<Policy>(r#"{"locksmith_paid_by":"nobody"}"#).is_err());
    }

    #[test]
    fn entry_notices_default_to_a_day_and_can_never_be_instant() {
        assert_eq!(Policy::default().entry_notice_hours, 24);
        let none: Policy = serde_json::from_str(r#"{"entry_notice_hours":0}"#).unwrap();
        assert!(none.validate().unwrap_err().contains("entry_notice_hours"));
        let two_days: Policy = serde_json::from_str(r#"{"entry_notice_hours":48}"#).unwrap();
        assert!(two_days.validate().is_ok());
    }
}
