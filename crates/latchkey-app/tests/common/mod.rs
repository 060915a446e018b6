//! The building every use-case test starts from, on a database from `latchkey-testkit`.

// Each test binary uses a different subset of these helpers.
#![allow(dead_code)]

use latchkey_testkit::TestDb;

/// A building ready for use cases: an admin, one property in Europe/Berlin with unit "4071"
/// and its entry door, a resident of that unit (who can sign in) and a building manager.
pub struct World {
    pub app: latchkey_app::App,
    /// The test's own handle on the database, to look at what the use cases wrote.
    pub store: latchkey_store::Store,
    pub clock: std::sync::Arc<latchkey_app::ManualClock>,
    pub admin: latchkey_app::authz::Principal,
    pub property: latchkey_app::store::records::Property,
    pub unit: latchkey_app::store::records::Unit,
    pub door: latchkey_app::store::records::Door,
    pub resident: latchkey_app::store::records::Person,
    pub manager: latchkey_app::store::records::Person,
}

pub const RESIDENT_EMAIL: &str = "rosa@example.org";
pub const RESIDENT_PASSWORD: &str = "rosa's long password";

/// Monday 5 January 2026, 08:00 in Berlin.
pub fn start() -> jiff::Timestamp {
    jiff::civil::date(2026, 1, 5)
        .at(8, 0, 0, 0)
        .in_tz("Europe/Berlin")
        .expect("valid zoned time")
        .timestamp()
}

pub fn membership(
    role: latchkey_core::model::Role,
    unit: Option<latchkey_core::UnitId>,
) -> latchkey_app::people::MembershipInput {
    latchkey_app::people::MembershipInput {
        role,
        unit_id: unit,
        valid_from: None,
        valid_until: None,
    }
}

pub fn person(
    name: &str,
    email: Option<&str>,
    password: Option<&str>,
    m: latchkey_app::people::MembershipInput,
) -> latchkey_app::people::PersonInput {
    latchkey_app::people::PersonInput {
        name: name.to_owned(),
        email: email.map(str::to_owned),
        phone: None,
        password: password.map(str::to_owned),
        membership: m,
    }
}

pub fn property_input(name: &str, timezone: &str) -> latchkey_app::directory::PropertyInput {
    latchkey_app::directory::PropertyInput {
        name: name.to_owned(),
        address: "1 Lock Lane".to_owned(),
        timezone: timezone.to_owned(),
        policy: latchkey_core::model::Policy::default(),
        office_hours: latchkey_core::schedule::Schedule::Always,
    }
}

pub fn pin_for(
    holder: latchkey_core::PersonId,
    unit: Option<latchkey_core::UnitId>,
    pin: Option<&str>,
) -> latchkey_app::credentials::CredentialInput {
    latchkey_app::credentials::CredentialInput {
        person_id: holder,
        kind: latchkey_core::model::CredentialKind::Pin,
        label: None,
        unit_id: unit,
        doors: None,
        schedule: latchkey_core::schedule::Schedule::Always,
        max_uses: None,
        duress: false,
        pin: pin.map(str::to_owned),
        card_uid: None,
    }
}

impl World {
    pub async fn build(db: &TestDb) -> World {
        World::build_with(db, std::sync::Arc::new(latchkey_app::NoDevices)).await
    }

    /// As [`World::build`], with the app's device port.
    pub async fn build_with(
        db: &TestDb,
        devices: std::sync::Arc<dyn latchkey_app::DevicePort>,
    ) -> World {
        use latchkey_app::{App, AppConfig, ManualClock, secrets::Keys};
        use latchkey_core::model::{DoorKind, DoorMode, Role};
        use std::sync::Arc;

        let store = db.open().await;
        let clock = Arc::new(ManualClock::new(start()));
        let app = App::new(
            store.clone(),
            Keys::from_master(&[1; 32]),
            clock.clone(),
            devices,
            AppConfig::default(),
        );
        let admin = app
            .create_admin("Ada Admin", "admin@example.org", "admin's long password")
            .await
            .expect("create admin");
        let admin = app
            .terminal_principal(admin.id)
            .await
            .expect("admin principal");
        let property = app
            .create_property(
                admin.admin().expect("the caller may do this"),
                property_input("Linden House", "Europe/Berlin"),
            )
            .await
            .expect("create property");
        let unit = app
            .create_unit(
                admin.staff(property.id).expect("the caller may do this"),
                "4071",
                4,
                None,
            )
            .await
            .expect("create unit");
        let door = app
            .create_door(
                admin.staff(property.id).expect("the caller may do this"),
                latchkey_app::directory::DoorInput {
                    name: "4071 entry".to_owned(),
                    kind: DoorKind::UnitEntry,
                    unit_id: Some(unit.id),
                    mode: DoorMode::Normal,
                    pin_slots: 30,
                },
            )
            .await
            .expect("create door");
        let (resident, _) = {
            let input = person(
                "Rosa Resident",
                Some(RESIDENT_EMAIL),
                Some(RESIDENT_PASSWORD),
                membership(Role::Resident, Some(unit.id)),
            );
            app.create_person(
                app.may_create_person(&admin, property.id, &input)
                    .expect("the caller may do this"),
                input,
            )
        }
        .await
        .expect("create resident");
        let (manager, _) = {
            let input = person(
                "Max Manager",
                Some("max@example.org"),
                None,
                membership(Role::Manager, None),
            );
            app.create_person(
                app.may_create_person(&admin, property.id, &input)
                    .expect("the caller may do this"),
                input,
            )
        }
        .await
        .expect("create manager");
        World {
            app,
            store,
            clock,
            admin,
            property,
            unit,
            door,
            resident,
            manager,
        }
    }

    /// Someone new in unit 4071 with `role` (no sign-in).
    pub async fn unit_member(
        &self,
        name: &str,
        role: latchkey_core::model::Role,
    ) -> latchkey_app::store::records::Person {
        {
            let input = person(name, None, None, membership(role, Some(self.unit.id)));
            self.app.create_person(
                self.app
                    .may_create_person(&self.admin, self.property.id, &input)
                    .expect("the caller may do this"),
                input,
            )
        }
        .await
        .expect("a new member of the unit")
        .0
    }

    /// Opens a case for unit 4071 from the public page, as `identity` from `source`: the case
    /// token and the case's id.
    pub async fn open_public_case(
        &self,
        identity: &str,
        source: &str,
    ) -> (String, latchkey_core::LockoutCaseId) {
        let token = self
            .app
            .start_lockout_public(
                latchkey_app::lockout::PublicStart {
                    property_id: self.property.id.0,
                    unit: "4071".into(),
                    identity: identity.into(),
                },
                source,
            )
            .await
            .expect("anyone may open a case")
            .token;
        let mut conn = self.store.read().await.expect("read");
        let case = latchkey_store::lockout::case_by_token(
            &mut conn,
            &latchkey_app::secrets::token_digest(&token),
        )
        .await
        .expect("case")
        .expect("the token names a case");
        (token, case.id)
    }

    pub async fn principal(&self, id: latchkey_core::PersonId) -> latchkey_app::authz::Principal {
        self.app.terminal_principal(id).await.expect("principal")
    }

    pub async fn event_count(&self) -> i64 {
        let mut conn = self.store.read().await.expect("conn");
        latchkey_store::audit::count(&mut conn)
            .await
            .expect("count events")
    }

    /// Every event of the log, each rendered as one line of text.
    pub async fn all_events_text(&self) -> String {
        let mut conn = self.store.read().await.expect("conn");
        let events = latchkey_store::audit::stored_after(&mut conn, i64::MIN, 1_000_000)
            .await
            .expect("read events");
        events
            .iter()
            .map(|e| format!("{} {} {} {}\n", e.seq, e.kind, e.subject, e.data))
            .collect()
    }
}

/// The two steps of a use case on a record by id — load it and check the caller
/// (`App::may_<verb>`), then act with the capability — for tests that look at the outcome of
/// both together, as an API client does.
// The trait is private to the tests; no caller needs to name the futures' `Send` bounds.
#[allow(async_fn_in_trait)]
pub trait TwoSteps {
    async fn remote_as(
        &self,
        who: &Principal,
        door: latchkey_core::DoorId,
        action: latchkey_app::devices::RemoteAction,
        emergency: Option<&str>,
        wait: std::time::Duration,
    ) -> latchkey_app::Result<latchkey_app::devices::RemoteOutcome>;

    async fn check_access_as(
        &self,
        who: &Principal,
        q: latchkey_app::access::AccessQuery,
    ) -> latchkey_app::Result<latchkey_app::access::AccessAnswer>;

    async fn start_lockout_as(
        &self,
        who: &Principal,
        property: latchkey_core::PropertyId,
        unit: latchkey_core::UnitId,
        person: latchkey_core::PersonId,
    ) -> latchkey_app::Result<(latchkey_app::store::lockout::LockoutCase, String)>;

    async fn book_locksmith_as(
        &self,
        who: &Principal,
        case: latchkey_core::LockoutCaseId,
        input: latchkey_app::lockout::BookLocksmith,
    ) -> latchkey_app::Result<latchkey_app::lockout::Booked>;

    async fn complete_locksmith_job_as(
        &self,
        who: &Principal,
        job: i64,
        input: latchkey_app::lockout::CompleteJob,
    ) -> latchkey_app::Result<latchkey_app::lockout::Completed>;

    async fn cancel_credential_change_as(
        &self,
        who: &Principal,
        id: i64,
    ) -> latchkey_app::Result<()>;

    async fn record_forced_entry_as(
        &self,
        who: &Principal,
        case: latchkey_core::LockoutCaseId,
        door: latchkey_core::DoorId,
        how: &str,
    ) -> latchkey_app::Result<latchkey_app::incidents::Compromise>;
}

use latchkey_app::authz::Principal;

impl TwoSteps for latchkey_app::App {
    async fn remote_as(
        &self,
        who: &Principal,
        door: latchkey_core::DoorId,
        action: latchkey_app::devices::RemoteAction,
        emergency: Option<&str>,
        wait: std::time::Duration,
    ) -> latchkey_app::Result<latchkey_app::devices::RemoteOutcome> {
        let allowed = self
            .may_remote_command(who, door, action, emergency)
            .await?;
        self.remote_command(allowed, wait).await
    }

    async fn check_access_as(
        &self,
        who: &Principal,
        q: latchkey_app::access::AccessQuery,
    ) -> latchkey_app::Result<latchkey_app::access::AccessAnswer> {
        self.check_access(self.may_check_access(who, q).await?)
            .await
    }

    async fn start_lockout_as(
        &self,
        who: &Principal,
        property: latchkey_core::PropertyId,
        unit: latchkey_core::UnitId,
        person: latchkey_core::PersonId,
    ) -> latchkey_app::Result<(latchkey_app::store::lockout::LockoutCase, String)> {
        self.start_lockout_for(who.case_starter(property, person)?, unit)
            .await
    }

    async fn book_locksmith_as(
        &self,
        who: &Principal,
        case: latchkey_core::LockoutCaseId,
        input: latchkey_app::lockout::BookLocksmith,
    ) -> latchkey_app::Result<latchkey_app::lockout::Booked> {
        let party = self.may_book_locksmith(who, case, &input).await?;
        self.book_locksmith(party, input).await
    }

    async fn complete_locksmith_job_as(
        &self,
        who: &Principal,
        job: i64,
        input: latchkey_app::lockout::CompleteJob,
    ) -> latchkey_app::Result<latchkey_app::lockout::Completed> {
        let completer = self.may_complete_locksmith_job(who, job, &input).await?;
        self.complete_locksmith_job(completer, input).await
    }

    async fn cancel_credential_change_as(
        &self,
        who: &Principal,
        id: i64,
    ) -> latchkey_app::Result<()> {
        let canceller = self.may_cancel_credential_change(who, id).await?;
        self.cancel_credential_change(canceller).await
    }

    async fn record_forced_entry_as(
        &self,
        who: &Principal,
        case: latchkey_core::LockoutCaseId,
        door: latchkey_core::DoorId,
        how: &str,
    ) -> latchkey_app::Result<latchkey_app::incidents::Compromise> {
        let party = self.may_record_forced_entry(who, case, how).await?;
        self.record_forced_entry(party, door, how).await
    }
}
