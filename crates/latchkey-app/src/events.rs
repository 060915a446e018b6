//! Reading the audit log with filters and cursor paging, verifying its keyed chain, and signing
//! and checking anchors of its head.

use std::collections::BTreeSet;

use latchkey_core::chain::anchor::{Anchor, AnchorBreak, AnchorSummary};
use latchkey_core::{PersonId, PropertyId};
use latchkey_store::audit::{self, EventFilter, VerifyOutcome};
use latchkey_store::records::Event;
use latchkey_store::{Conn, credentials, people, property};

use crate::authz::Principal;
use crate::{App, Result};

/// At most this many events per page.
pub const MAX_PAGE: u32 = 500;

/// Who may read which events of the log: the one rule behind the events API and the live
/// stream. Staff read their properties' logs; everyone else reads what they did and what
/// happened to them, their units, their units' doors and credentials, and their households.
#[derive(Clone, Debug)]
pub(crate) struct Visibility {
    /// An admin: every event.
    pub all: bool,
    pub staff: Vec<PropertyId>,
    /// Properties where the caller stands without being staff.
    pub others: Vec<PropertyId>,
    pub me: PersonId,
    /// At `others`: the subjects whose events the caller reads besides their own doings.
    pub subjects: BTreeSet<String>,
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
        let props: Vec<PropertyId> = match property {
            Some(p) => {
                who.member(p)?;
                vec![p]
            }
            None => match who.visible_properties() {
                Some(v) => v,
                None => {
                    return Ok(Visibility {
                        all: true,
                        staff: Vec::new(),
                        others: Vec::new(),
                        me: who.id(),
                        subjects: BTreeSet::new(),
                    });
                }
            },
        };
        let (staff, others): (Vec<PropertyId>, Vec<PropertyId>) =
            props.into_iter().partition(|p| who.staff(*p).is_ok());
        let mut subjects = BTreeSet::from([format!("person:{}", who.id())]);
        for p in &others {
            let units = who.units(*p);
            let resident_of = who.resident_units(*p);
            for u in &units {
                subjects.insert(format!("unit:{u}"));
            }
            for d in property::list_doors(conn, *p).await? {
                if d.unit_id.is_some_and(|u| units.contains(&u)) {
                    subjects.insert(format!("door:{}", d.id));
                }
            }
            for c in credentials::list_credentials(conn, *p, None).await? {
                if c.person_id == who.id() || c.unit_id.is_some_and(|u| resident_of.contains(&u)) {
                    subjects.insert(format!("credential:{}", c.id));
                }
            }
            for m in people::list_memberships(conn, *p).await? {
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
        })
    }

    /// Whether the caller may read `e`: the same rule as the queries of [`App::list_events`].
    pub(crate) fn admits(&self, e: &Event) -> bool {
        if self.all {
            return true;
        }
        match e.property_id {
            Some(p) if self.staff.contains(&p) => true,
            Some(p) if self.others.contains(&p) => {
                e.actor_id == Some(self.me) || self.subjects.contains(&e.subject)
            }
            _ => false,
        }
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
        mut filter: EventFilter,
    ) -> Result<Vec<Event>> {
        filter.limit = filter.limit.clamp(1, MAX_PAGE);
        let mut conn = self.store().read().await?;
        let view = Visibility::of(&mut conn, who, property_filter).await?;
        if view.all {
            filter.properties = None;
            return Ok(audit::query(&mut conn, &filter).await?);
        }
        let mut out = Vec::new();
        if !view.staff.is_empty() {
            let mut f = filter.clone();
            f.properties = Some(view.staff.clone());
            out.extend(audit::query(&mut conn, &f).await?);
        }
        if !view.others.is_empty() {
            let mut f = filter.clone();
            f.properties = Some(view.others.clone());
            f.visible_to = Some((view.me, view.subjects.iter().cloned().collect()));
            out.extend(audit::query(&mut conn, &f).await?);
        }
        out.sort_by_key(|e| std::cmp::Reverse(e.seq));
        out.truncate(filter.limit as usize);
        Ok(out)
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
