//! Reading the audit log with filters and cursor paging, verifying its keyed chain, and signing
//! and checking anchors of its head.

use std::collections::BTreeSet;

use latchkey_core::chain::anchor::{Anchor, AnchorBreak, AnchorSummary};
use latchkey_core::{LockoutCaseId, PersonId, PropertyId, UnitId};
use latchkey_store::audit::{
    self, EventFilter, HiddenEvents, NewEvent, UnitDevices, VerifyOutcome,
};
use latchkey_store::entry::EntryNotice;
use latchkey_store::lockout::LockoutCase;
use latchkey_store::records::{Door, Event};
use latchkey_store::resolution::Incident;
use latchkey_store::{Conn, credentials, entry, lockout, people, property, resolution};

use crate::authz::{self, ActivityRead, Principal, Reason, Via};
use crate::{App, AppError, Result};

/// What the staff of every property read, stated with the property (`staff_see` in its API
/// answer; docs/OPERATIONS.md, "Privacy"). It is the rule of `authz::privacy` put in words, not a
/// setting: a property cannot hide security events from its staff, nor show them a household's
/// comings and goings without a reason.
pub struct StaffSee {
    /// Classes of events staff read without a reason: `security` (alarms — forced entry,
    /// tamper, wrong-code limit, low battery —, jams, offline and online, compromised doors),
    /// `shared_doors` (every event of a door of no unit) and `property_records` (people,
    /// credentials, cases, changes and every other event that is not personal).
    pub without_reason: &'static [&'static str],
    /// The kinds that are personal on a unit's doors: staff read them only with a reason.
    pub with_reason: &'static [&'static str],
    /// The reasons staff may name: an open lockout case, an incident not closed, an alarm of
    /// the last 24 hours, an entry notice not cancelled and not ended more than 24 hours ago.
    pub reasons: &'static [&'static str],
}

/// The rule above, as [`StaffSee`] states it.
pub const STAFF_SEE: StaffSee = StaffSee {
    without_reason: &["security", "shared_doors", "property_records"],
    with_reason: crate::authz::PERSONAL_KINDS,
    reasons: &["case", "incident", "alarm", "entry_notice"],
};

/// At most this many events per page.
pub const MAX_PAGE: u32 = 500;

/// Who may read which events of the log: the one rule behind the events API and the live
/// stream. Staff read their properties' logs except the personal events of units' doors
/// (`authz::is_personal`, decision 40); everyone else reads what they did and what happened to
/// them, their units, their units' doors and credentials, and their households.
#[derive(Clone, Debug)]
pub(crate) struct Visibility {
    /// An admin: every event but the personal ones of units' doors.
    pub all: bool,
    pub staff: Vec<PropertyId>,
    /// Properties where the caller stands without being staff.
    pub others: Vec<PropertyId>,
    pub me: PersonId,
    /// At `others`: the subjects whose events the caller reads besides their own doings.
    pub subjects: BTreeSet<String>,
    /// At `staff` (or everywhere, for an admin): the doors and sensors of units the caller does
    /// not live in, whose personal events staff do not read without a reason. Read only for
    /// [`Visibility::admits`] (the live stream); a query of the log leaves them out in SQL
    /// ([`Visibility::hide`]), by the same rule, without reading them first.
    pub private: BTreeSet<String>,
    /// Where the rule on units' doors binds the caller (their staffed properties; none for the
    /// terminal), and the units there they live in, whose doors are theirs to read.
    private_at: Vec<PropertyId>,
    own_units: Vec<UnitId>,
}

impl Visibility {
    /// The caller's view of the log, limited to `property` when given.
    ///
    /// # Errors
    /// `NotFound` when `property` names a property the caller has no standing at.
    pub(crate) async fn of(
        conn: &mut Conn,
        who: &Principal,
        property: Option<PropertyId>,
    ) -> Result<Visibility> {
        Self::scoped(conn, who, property, true).await
    }

    /// As [`Visibility::of`] without reading the set `private` (left empty): for a query of the
    /// log, whose [`Visibility::hide`] filter applies the same rule in SQL. Never used with
    /// [`Visibility::admits`].
    async fn for_query(
        conn: &mut Conn,
        who: &Principal,
        property: Option<PropertyId>,
    ) -> Result<Visibility> {
        Self::scoped(conn, who, property, false).await
    }

    async fn scoped(
        conn: &mut Conn,
        who: &Principal,
        property: Option<PropertyId>,
        read_private: bool,
    ) -> Result<Visibility> {
        let (all, props): (bool, Vec<PropertyId>) = match property {
            Some(p) => {
                who.member(p)?;
                (false, vec![p])
            }
            None => match who.visible_properties() {
                Some(v) => (false, v),
                None => (
                    true,
                    property::list_properties(conn)
                        .await?
                        .into_iter()
                        .map(|p| p.id)
                        .collect(),
                ),
            },
        };
        let (staff, others): (Vec<PropertyId>, Vec<PropertyId>) =
            props.into_iter().partition(|p| who.staff(*p).is_ok());
        let mut private = BTreeSet::new();
        // The terminal holds the data directory and the master key: it could read the database
        // itself, so no rule here would bind it (docs/OPERATIONS.md, "Privacy").
        let bound = who.via() != Via::Terminal;
        let private_at: Vec<PropertyId> = staff.iter().copied().filter(|_| bound).collect();
        let mut own_units: Vec<UnitId> = private_at.iter().flat_map(|p| who.units(*p)).collect();
        own_units.sort_unstable();
        own_units.dedup();
        for p in private_at.iter().filter(|_| read_private) {
            let own = who.units(*p);
            let mut unit_doors = BTreeSet::new();
            for d in property::list_doors(conn, *p).await? {
                if d.unit_id.is_some_and(|u| !own.contains(&u)) {
                    private.insert(format!("door:{}", d.id));
                    unit_doors.insert(d.id);
                }
            }
            for s in property::list_sensors(conn, *p).await? {
                let on_unit = s.unit_id.is_some_and(|u| !own.contains(&u))
                    || s.door_id.is_some_and(|d| unit_doors.contains(&d));
                if on_unit {
                    private.insert(format!("sensor:{}", s.id));
                }
            }
        }
        if all {
            return Ok(Visibility {
                all,
                staff: Vec::new(),
                others: Vec::new(),
                me: who.id(),
                subjects: BTreeSet::new(),
                private,
                private_at,
                own_units,
            });
        }
        let mut subjects = BTreeSet::from([format!("person:{}", who.id())]);
        for p in &others {
            let units = who.units(*p);
            let resident_of = who.resident_units(*p);
            for u in &units {
                subjects.insert(format!("unit:{u}"));
            }
            for d in property::list_doors_near(conn, *p, &units, &[]).await? {
                if d.unit_id.is_some_and(|u| units.contains(&u)) {
                    subjects.insert(format!("door:{}", d.id));
                }
            }
            for s in property::list_sensors(conn, *p).await? {
                if s.unit_id.is_some_and(|u| units.contains(&u)) {
                    subjects.insert(format!("sensor:{}", s.id));
                }
            }
            // Narrowed in SQL to the caller's units and own rows; the tests below are the rule.
            for c in
                credentials::list_credentials_near(conn, *p, &resident_of, who.id(), None).await?
            {
                if c.person_id == who.id() || c.unit_id.is_some_and(|u| resident_of.contains(&u)) {
                    subjects.insert(format!("credential:{}", c.id));
                }
            }
            for m in people::list_memberships_near(conn, *p, &resident_of, who.id()).await? {
                if m.unit_id.is_some_and(|u| resident_of.contains(&u)) {
                    subjects.insert(format!("person:{}", m.person_id));
                }
            }
        }
        Ok(Visibility {
            all: false,
            staff,
            others,
            me: who.id(),
            subjects,
            private,
            private_at,
            own_units,
        })
    }

    /// Whether the caller may read `e`: the same rule as the queries of [`App::list_events`].
    pub(crate) fn admits(&self, e: &Event) -> bool {
        let staffed = self.all || e.property_id.is_some_and(|p| self.staff.contains(&p));
        if staffed {
            return e.actor_id == Some(self.me) || !authz::is_personal(e, &self.private);
        }
        match e.property_id {
            Some(p) if self.others.contains(&p) => {
                e.actor_id == Some(self.me) || self.subjects.contains(&e.subject)
            }
            _ => false,
        }
    }

    /// The filter that hides from staff the personal events of units' doors and sensors (the
    /// set `private` would hold), but those of `opened`: worked out by the query from the doors
    /// and sensors tables, so nothing is read for it first.
    fn hide(&self, opened: &BTreeSet<String>) -> Option<HiddenEvents> {
        (!self.private_at.is_empty()).then(|| HiddenEvents {
            unless_actor: self.me,
            kinds: authz::PERSONAL_KINDS
                .iter()
                .map(|k| (*k).to_owned())
                .collect(),
            subjects: UnitDevices {
                properties: Some(self.private_at.clone()),
                except_units: self.own_units.clone(),
                shown: opened.iter().cloned().collect(),
            },
        })
    }
}

/// What staff name as the reason to read a unit's door activity (`case:42`, `incident:7`,
/// `alarm:1234` for the `seq` of a `lock.alarm` event, `entry_notice:3`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReasonRef {
    Case(LockoutCaseId),
    Incident(i64),
    Alarm(i64),
    Notice(i64),
}

impl std::str::FromStr for ReasonRef {
    type Err = AppError;

    fn from_str(s: &str) -> Result<ReasonRef> {
        let bad = || {
            AppError::invalid(
                "reason",
                "name an open record as kind:id, kind one of case, incident, alarm, entry_notice \
                 (for example case:42)",
            )
        };
        let (kind, id) = s.split_once(':').ok_or_else(bad)?;
        let id: i64 = id.parse().map_err(|_| bad())?;
        if id <= 0 {
            return Err(bad());
        }
        Ok(match kind {
            "case" => ReasonRef::Case(LockoutCaseId(id)),
            "incident" => ReasonRef::Incident(id),
            "alarm" => ReasonRef::Alarm(id),
            "entry_notice" => ReasonRef::Notice(id),
            _ => return Err(bad()),
        })
    }
}

impl App {
    /// Events the caller may read, newest first (see [`Visibility`]).
    ///
    /// # Errors
    /// `NotFound` when a property filter names a property the caller has no standing at.
    pub async fn list_events(
        &self,
        who: &Principal,
        property_filter: Option<PropertyId>,
        filter: EventFilter,
    ) -> Result<Vec<Event>> {
        self.visible_events(who, property_filter, filter, &BTreeSet::new())
            .await
    }

    /// Loads the record `reason` names and checks that it lets the caller read its unit's door
    /// activity ([`Principal::activity_reader`]).
    ///
    /// # Errors
    /// `NotFound("reason")` when there is no such record (or the caller may not know of it);
    /// `Forbidden` for someone who is not staff there; `Invalid("reason")` when the reason is
    /// closed or not about a unit.
    pub async fn may_read_activity<'a>(
        &self,
        who: &'a Principal,
        reason: ReasonRef,
    ) -> Result<ActivityRead<'a>> {
        let mut conn = self.store().read().await?;
        let loaded = load_reason(&mut conn, reason).await?;
        who.activity_reader(&loaded.as_reason())
    }

    /// [`App::list_events`] plus the personal events of the unit the capability's reason is
    /// about. The read is recorded as a `privacy.activity_viewed` event the household sees.
    ///
    /// # Errors
    /// As [`App::list_events`].
    pub async fn list_events_with_reason(
        &self,
        read: ActivityRead<'_>,
        property_filter: Option<PropertyId>,
        filter: EventFilter,
    ) -> Result<Vec<Event>> {
        let opened = {
            let mut conn = self.store().read().await?;
            unit_subjects(&mut conn, read.property(), read.unit()).await?
        };
        let out = self
            .visible_events(read.principal(), property_filter, filter, &opened)
            .await?;
        self.record_activity_read(&read, &out, &opened).await?;
        Ok(out)
    }

    /// The events `who` reads, with the personal events of `opened` shown to staff.
    async fn visible_events(
        &self,
        who: &Principal,
        property_filter: Option<PropertyId>,
        mut filter: EventFilter,
        opened: &BTreeSet<String>,
    ) -> Result<Vec<Event>> {
        filter.limit = filter.limit.clamp(1, MAX_PAGE);
        let mut conn = self.store().read().await?;
        let view = Visibility::for_query(&mut conn, who, property_filter).await?;
        let mut out = Vec::new();
        if view.all {
            let mut f = filter.clone();
            f.properties = None;
            f.hidden = view.hide(opened);
            out.extend(audit::query(&mut conn, &f).await?);
        }
        if !view.staff.is_empty() {
            let mut f = filter.clone();
            f.properties = Some(view.staff.clone());
            f.hidden = view.hide(opened);
            out.extend(audit::query(&mut conn, &f).await?);
        }
        if !view.others.is_empty() {
            let mut f = filter.clone();
            f.properties = Some(view.others.clone());
            f.visible_to = Some((view.me, view.subjects.iter().cloned().collect()));
            out.extend(audit::query(&mut conn, &f).await?);
        }
        out.sort_by_key(|e| std::cmp::Reverse(e.seq));
        out.dedup_by_key(|e| e.seq);
        out.truncate(filter.limit as usize);
        Ok(out)
    }

    /// Records a reasoned read of a unit's door activity for its household to see: who, when,
    /// for which reason, and how many personal events they were shown.
    async fn record_activity_read(
        &self,
        read: &ActivityRead<'_>,
        shown: &[Event],
        opened: &BTreeSet<String>,
    ) -> Result<()> {
        let personal = shown
            .iter()
            .filter(|e| authz::is_personal(e, opened))
            .count();
        let tx = self.store().write().await?;
        let event = NewEvent::new(authz::VIEWED_KIND, format!("unit:{}", read.unit()))
            .property(read.property())
            .actor(Some(read.principal().id()))
            .data(serde_json::json!({
                "reason": read.reason(),
                "reason_id": read.reason_id(),
                "personal_events_shown": personal,
            }));
        self.commit_with(tx, vec![event]).await
    }

    /// The chain's head, `(seq, hash)`: what an operator keeps elsewhere to detect a rewrite.
    ///
    /// # Errors
    /// `Store` when the log cannot be read.
    pub async fn audit_head(&self) -> Result<(i64, [u8; 32])> {
        let mut conn = self.store().read().await?;
        Ok(audit::read_head(&mut conn).await?)
    }

    /// How many events the log holds (for progress reports).
    ///
    /// # Errors
    /// `Store` when the log cannot be read.
    pub async fn audit_len(&self) -> Result<i64> {
        let mut conn = self.store().read().await?;
        Ok(audit::count(&mut conn).await?)
    }

    /// Verifies the whole chain (admins and the terminal).
    ///
    /// # Errors
    /// `Store` when the log cannot be read.
    pub async fn verify_audit(&self, progress: impl FnMut(u64)) -> Result<VerifyOutcome> {
        Ok(audit::verify(self.store(), self.keys().chain_key(), progress).await?)
    }

    /// Keys the audit chain of a log written before it was keyed: appends the keying marker,
    /// which pins every older event under the key. Returns the marker's `seq` when it was
    /// written now, `None` when the chain was keyed already.
    ///
    /// # Errors
    /// `Store` when the log cannot be read or written.
    pub async fn key_audit_chain(&self) -> Result<Option<i64>> {
        let mut tx = self.store().write().await?;
        let (before, _) = audit::read_head(tx.conn()).await?;
        let after = audit::append(&mut tx, self.keys().chain_key(), self.now(), &[]).await?;
        tx.commit().await?;
        Ok((after > before).then_some(after))
    }

    /// The chain head as of now, signed with the anchor key, to be kept outside the database.
    ///
    /// # Errors
    /// `Store` when the head cannot be read.
    pub async fn audit_anchor(&self) -> Result<Anchor> {
        let mut conn = self.store().read().await?;
        let (seq, hash) = audit::read_head(&mut conn).await?;
        Ok(Anchor::sign(
            self.keys().anchor_key(),
            seq,
            hash,
            self.now(),
        ))
    }

    /// Checks the anchors in `text` (an anchor file) against the log, which [`App::verify_audit`]
    /// found intact up to `last_seq`: every signature, and that the log holds each anchored
    /// `(seq, hash)`. The inner `Err` names the first anchor that does not hold.
    ///
    /// # Errors
    /// `Store` when the log cannot be read.
    pub async fn check_anchors(
        &self,
        text: &str,
        last_seq: i64,
    ) -> Result<std::result::Result<AnchorSummary, AnchorBreak>> {
        let mut conn = self.store().read().await?;
        Ok(audit::check_anchors(&mut conn, self.keys().anchor_key(), text, last_seq).await?)
    }
}

/// A reason's record as loaded, owning what [`Reason`] borrows.
enum Loaded {
    Case(LockoutCase),
    Incident(Incident, Door),
    Alarm(Event, Door),
    Notice(EntryNotice),
}

impl Loaded {
    fn as_reason(&self) -> Reason<'_> {
        match self {
            Loaded::Case(c) => Reason::Case(c),
            Loaded::Incident(incident, door) => Reason::Incident { incident, door },
            Loaded::Alarm(event, door) => Reason::Alarm { event, door },
            Loaded::Notice(n) => Reason::Notice(n),
        }
    }
}

/// Loads the record a reason names.
///
/// # Errors
/// `NotFound("reason")` when there is none (or its door is gone).
async fn load_reason(conn: &mut Conn, r: ReasonRef) -> Result<Loaded> {
    let missing = || AppError::not_found("reason");
    let door_of = |subject: &str| {
        subject
            .strip_prefix("door:")
            .and_then(|d| d.parse().ok())
            .map(latchkey_core::DoorId)
    };
    Ok(match r {
        ReasonRef::Case(id) => {
            Loaded::Case(lockout::get_case(conn, id).await?.ok_or_else(missing)?)
        }
        ReasonRef::Incident(id) => {
            let i = resolution::get_incident(conn, id)
                .await?
                .ok_or_else(missing)?;
            let d = property::get_door(conn, i.door_id)
                .await?
                .ok_or_else(missing)?;
            Loaded::Incident(i, d)
        }
        ReasonRef::Alarm(seq) => {
            let e = audit::event_at(conn, seq).await?.ok_or_else(missing)?;
            let door = door_of(&e.subject).ok_or_else(missing)?;
            let d = property::get_door(conn, door).await?.ok_or_else(missing)?;
            Loaded::Alarm(e, d)
        }
        ReasonRef::Notice(id) => {
            Loaded::Notice(entry::get_notice(conn, id).await?.ok_or_else(missing)?)
        }
    })
}

/// The subjects of a unit's doors and their sensors.
async fn unit_subjects(conn: &mut Conn, p: PropertyId, unit: UnitId) -> Result<BTreeSet<String>> {
    let mut out = BTreeSet::new();
    let mut doors = BTreeSet::new();
    for d in property::list_doors_near(conn, p, &[unit], &[]).await? {
        if d.unit_id == Some(unit) {
            out.insert(format!("door:{}", d.id));
            doors.insert(d.id);
        }
    }
    for s in property::list_sensors(conn, p).await? {
        if s.unit_id == Some(unit) || s.door_id.is_some_and(|d| doors.contains(&d)) {
            out.insert(format!("sensor:{}", s.id));
        }
    }
    Ok(out)
}
