//! Authorization as types. A use case that changes something takes a capability; the only way
//! to get one is from a [`Principal`] through the checks in this module, so code that skipped a
//! check has nothing to call.
//!
//! Two shapes (docs/ARCHITECTURE.md, "Authorization"):
//!
//! - **At a property or unit**: a method on [`Principal`] mints [`Member`], [`Staff`],
//!   [`Installer`], [`UnitAdmin`], [`Admin`], [`PropertyChanger`], [`RoleGranter`],
//!   [`CredentialIssuer`] from what the principal already carries (its memberships).
//! - **On one record, by id**: the app loads the record (a credential, a membership, a door, an
//!   entry notice, a spare key, a lockout case, a lock command), then a method here takes the
//!   principal and that record and mints a capability that carries it ([`CredentialChange`],
//!   [`DoorChanger`], [`MembershipEnder`], …). The write use case takes the capability, so it
//!   cannot act on another record than the one that was checked.
//!
//! Everything here is pure: no storage, no clock (the principal carries the request's
//! instant). Capabilities have private fields, no public constructor, and are neither `Clone`
//! nor `Copy`.
//!
//! Someone with no standing at a property is told its resources are "not found" (they may not
//! learn that they exist); someone who can see a resource but not change it is "not allowed".

mod credentials;
mod doors;
mod entry;
mod lockout;
mod people;
mod principal;
mod property;
mod records;
mod recovery;

pub use credentials::{CredentialChange, CredentialEdit, CredentialIssuer, PinReveal};
pub use doors::DoorChanger;
pub(crate) use lockout::NOT_PROVEN;
pub use lockout::{CaseOpener, CaseParty, CaseStaff, Guardian, SpareKeyHolder};
pub use people::{Inviter, MembershipAdder, MembershipEnder, PersonEditor, RoleGranter};
pub use principal::{Principal, Via};
pub use property::{Admin, Installer, Member, PropertyChanger, Staff, UnitAdmin};
pub use records::{AtProperty, InstallerOn, StaffOn};
pub use recovery::{CardHolder, SpareKeyRevoker};
