//! Reading the audit log with filters and cursor paging, and verifying its chain.

use latchkey_core::PropertyId;
use latchkey_store::audit::{self, EventFilter, VerifyOutcome};
use latchkey_store::records::Event;
use latchkey_store::{credentials, people, property};

use crate::authz::Principal;
use crate::{App, Result};

/// At most this many events per page.
pub const MAX_PAGE: u32 = 500;

impl App {
    /// Events the caller may read, newest first. Staff read their properties' logs; everyone
    /// else reads what they did and what happened to them, their units, doors and credentials.
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
        let props: Vec<PropertyId> = match property_filter {
            Some(p) => {
                who.member(p)?;
                vec![p]
            }
            None => match who.visible_properties() {
                Some(v) => v,
                None => {
                    filter.properties = None;
                    let mut conn = self.store().read().await?;
                    return Ok(audit::query(&mut conn, &filter).await?);
                }
            },
        };
        let staff: Vec<PropertyId> = props
            .iter()
            .copied()
            .filter(|p| who.staff(*p).is_ok())
            .collect();
        let mut out = Vec::new();
        let mut conn = self.store().read().await?;
        if !staff.is_empty() {
            let mut f = filter.clone();
            f.properties = Some(staff.clone());
            out.extend(audit::query(&mut conn, &f).await?);
        }
        let others: Vec<PropertyId> = props.into_iter().filter(|p| !staff.contains(p)).collect();
        if !others.is_empty() {
            let mut subjects = vec![format!("person:{}", who.id())];
            for p in &others {
                let units = who.units(*p);
                let resident_of = who.resident_units(*p);
                for u in &units {
                    subjects.push(format!("unit:{u}"));
                }
                for d in property::list_doors(&mut conn, *p).await? {
                    if d.unit_id.is_some_and(|u| units.contains(&u)) {
                        subjects.push(format!("door:{}", d.id));
                    }
                }
                for c in credentials::list_credentials(&mut conn, *p, None).await? {
                    if c.person_id == who.id()
                        || c.unit_id.is_some_and(|u| resident_of.contains(&u))
                    {
                        subjects.push(format!("credential:{}", c.id));
                    }
                }
                for m in people::list_memberships(&mut conn, *p).await? {
                    if m.unit_id.is_some_and(|u| resident_of.contains(&u)) {
                        subjects.push(format!("person:{}", m.person_id));
                    }
                }
            }
            let mut f = filter.clone();
            f.properties = Some(others);
            f.visible_to = Some((who.id(), subjects));
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
        Ok(audit::verify(self.store(), progress).await?)
    }
}
