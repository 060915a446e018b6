//! Authorization as types. A use case that changes something takes a capability; the only way
//! to get one is from a [`Principal`] through the checks in this module, so code that skipped a
//! check has nothing to call.
//!
//! Three shapes (docs/ARCHITECTURE.md, "Authorization"):
//!
//! - **At a property or unit**: a method on [`Principal`] mints [`Member`], [`Staff`],
//!   [`Installer`], [`UnitAdmin`], [`Admin`], [`PropertyChanger`], [`RoleGranter`],
//!   [`CredentialIssuer`], [`CaseStarter`] from what the principal already carries (its
//!   memberships).
//! - **Of one's own account**: [`OwnAccount`] and [`OwnSession`] carry the caller, and the use
//!   case acts on the caller only; a session, token or passkey chosen by id is loaded and must
//!   be the caller's ([`GrantRevoker`], [`PasskeyOwner`], [`PushSubscriptionOwner`]).
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

mod account;
mod credentials;
mod doors;
mod entry;
mod lockout;
mod onboarding;
mod outbox;
mod people;
mod principal;
mod privacy;
mod property;
mod push;
mod records;
mod recovery;
mod webhooks;

pub use account::{GrantRevoker, OwnAccount, OwnSession, PasskeyOwner, PasswordSetter};
pub use credentials::{CredentialChange, CredentialEdit, CredentialIssuer, PinReveal};
pub use doors::{AccessChecker, CommandBasis, DoorChanger, DoorCommand};
pub(crate) use lockout::NOT_PROVEN;
pub use lockout::{
    CaseOpener, CaseParty, CaseStaff, CaseStarter, ChangeCanceller, Guardian, JobCompleter,
    SpareKeyHolder,
};
pub use onboarding::Importer;
pub use outbox::{OutboxReader, Redeliverer};
pub use people::{Inviter, MembershipAdder, MembershipEnder, PersonEditor, RoleGranter};
pub use principal::{Principal, Via};
pub use privacy::{
    ActivityRead, PERSONAL_KINDS, PersonEraser, Reason, VIEWED_KIND, is_personal, is_personal_kind,
};
pub use property::{Admin, Installer, Member, PropertyChanger, Staff, UnitAdmin};
pub use push::PushSubscriptionOwner;
pub use records::{AtProperty, InstallerOn, StaffOn};
pub use recovery::{CardHolder, SpareKeyRevoker};
pub use webhooks::{WebhookChange, WebhookManager, webhook_kind_allowed, webhook_kinds};
