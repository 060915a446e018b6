//! Typed identifiers. Every row id is an `i64` in storage; the newtype keeps a door id from
//! being passed where a credential id is expected.

use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id_type!(
    /// A property: a building or a house.
    PropertyId
);
id_type!(
    /// A unit (apartment) of a property.
    UnitId
);
id_type!(
    /// A door of a property, optionally belonging to a unit.
    DoorId
);
id_type!(
    /// A named set of doors.
    DoorGroupId
);
id_type!(
    /// A door contact or window sensor.
    SensorId
);
id_type!(
    /// A person (who may or may not have a login).
    PersonId
);
id_type!(
    /// A role held by a person at a property or unit for a period.
    MembershipId
);
id_type!(
    /// A phone key, PIN, RFID card or physical-key record.
    CredentialId
);
id_type!(
    /// The position of an event in the audit chain (1-based, contiguous).
    EventSeq
);
id_type!(
    /// A digital spare key.
    SpareKeyId
);
id_type!(
    /// A locksmith company registered with a property.
    LocksmithId
);
id_type!(
    /// A lockout case.
    LockoutCaseId
);
