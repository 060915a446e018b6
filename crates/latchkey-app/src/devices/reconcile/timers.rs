//! Timers: every scheduled change of what a lock must hold is applied at its instant, not at the
//! next sweep. A credential's next *edge* is the first instant after now at which its slot
//! content may change without anyone touching it: its schedule's window opening or closing, its
//! date range or one-time window starting or ending, its holder's membership starting or ending.
//! (A use limit is reached by a use, which ingestion reports at once.)
//!
//! The edges are computed from the database — all of them when this replica takes the lease,
//! at every sweep and when a door-wide change arrives; one credential's when it changes — and
//! held in memory, earliest first. The reconciler sleeps until the earliest, then re-plans the
//! credentials whose edge it is (ending first those whose holder has moved out), and computes
//! their next edge. Nothing is stored, so a restart or a new lease holder simply computes them
//! again; an edge that passed while nobody held the lease is applied by the first sweep.

use std::collections::{BTreeSet, HashMap};

use jiff::Timestamp;
use jiff::tz::TimeZone;
use latchkey_core::model::{CredentialKind, CredentialStatus};
use latchkey_core::{CredentialId, DoorId};
use latchkey_store::records::{Credential, Membership};
use latchkey_store::{credentials, people, property};

use crate::directory::time_zone;
use crate::{App, Result};

/// The next edge of every live PIN credential, earliest first.
#[derive(Default)]
pub(super) struct Timers {
    queue: BTreeSet<(Timestamp, CredentialId)>,
    at: HashMap<CredentialId, Timestamp>,
    /// A door-wide change arrived (a mode, a pairing, a membership): recompute everything.
    pub stale: bool,
}

impl Timers {
    /// The earliest edge, if any.
    pub fn next(&self) -> Option<Timestamp> {
        self.queue.first().map(|(t, _)| *t)
    }

    /// Takes the credentials whose edge is at or before `now`, with the edge.
    pub fn take_due(&mut self, now: Timestamp) -> Vec<(CredentialId, Timestamp)> {
        let mut due = Vec::new();
        while let Some(&(t, c)) = self.queue.first() {
            if t > now {
                break;
            }
            self.queue.pop_first();
            self.at.remove(&c);
            due.push((c, t));
        }
        due
    }

    fn set(&mut self, c: CredentialId, edge: Option<Timestamp>) {
        if let Some(old) = self.at.remove(&c) {
            self.queue.remove(&(old, c));
        }
        if let Some(t) = edge {
            self.queue.insert((t, c));
            self.at.insert(c, t);
        }
    }

    /// Notes what a batch of changes means for the edges: the credentials to recompute, or
    /// (for a door-wide change, or too many credentials) a full recomputation.
    pub fn note(&mut self, batch: &[super::Input]) -> Vec<CredentialId> {
        let mut ids: Vec<CredentialId> = Vec::new();
        for i in batch {
            match i {
                super::Input::Door(_) => self.stale = true,
                super::Input::Credential(c, _) => ids.push(*c),
            }
        }
        ids.sort_unstable();
        ids.dedup();
        if ids.len() > super::REFRESH_AT_MOST {
            self.stale = true;
            ids.clear();
        }
        ids
    }

    /// Recomputes every credential's edge from the database.
    pub async fn rebuild(&mut self, app: &App) -> Result<()> {
        let now = app.now();
        let mut conn = app.store().read().await?;
        let mut queue = Timers::default();
        for p in property::list_properties(&mut conn).await? {
            let tz = time_zone(&p.timezone)?;
            let ms = people::list_memberships(&mut conn, p.id).await?;
            for c in credentials::list_credentials(&mut conn, p.id, None).await? {
                queue.set(c.id, edge_of(&c, &ms, &tz, now));
            }
        }
        *self = queue;
        self.stale = false;
        Ok(())
    }

    /// Recomputes the edges of these credentials.
    pub async fn refresh(&mut self, app: &App, ids: &[CredentialId]) -> Result<()> {
        let now = app.now();
        let mut conn = app.store().read().await?;
        let mut zones: HashMap<latchkey_core::PropertyId, TimeZone> = HashMap::new();
        for &id in ids {
            let Some(c) = credentials::get_credential(&mut conn, id).await? else {
                self.set(id, None);
                continue;
            };
            let tz = match zones.get(&c.property_id) {
                Some(tz) => tz.clone(),
                None => {
                    let p = crate::directory::load_property(&mut conn, c.property_id).await?;
                    let tz = time_zone(&p.timezone)?;
                    zones.insert(c.property_id, tz.clone());
                    tz
                }
            };
            let ms = people::memberships_of(&mut conn, c.person_id).await?;
            // An edge that is already due again would spin; the sweep re-plans it instead.
            let edge = edge_of(&c, &ms, &tz, now).filter(|t| *t > now);
            self.set(id, edge);
        }
        Ok(())
    }
}

/// The first instant after `now` at which `c`'s slot content may change by itself, or `now`
/// when its holder's membership has already ended and the credential is still live (a
/// move-out that passed while no replica held the lease).
fn edge_of(c: &Credential, ms: &[Membership], tz: &TimeZone, now: Timestamp) -> Option<Timestamp> {
    if c.kind != CredentialKind::Pin || c.status == CredentialStatus::Revoked {
        return None;
    }
    if crate::people::ended_membership(ms, c, now).is_some() {
        return Some(now);
    }
    let schedule = c.schedule.compile(tz).next_edge(now, tz);
    let membership = ms
        .iter()
        .filter(|m| m.person_id == c.person_id && m.property_id == c.property_id)
        .filter(|m| m.unit_id.is_none() || m.unit_id == c.unit_id)
        .flat_map(|m| [m.valid_from, m.valid_until])
        .flatten()
        .filter(|t| *t > now)
        .min();
    [schedule, membership].into_iter().flatten().min()
}

/// The doors to re-plan for credentials whose edge came.
pub(super) async fn doors_of(
    app: &App,
    ids: &[CredentialId],
) -> Result<Vec<(CredentialId, Vec<DoorId>)>> {
    let mut conn = app.store().read().await?;
    let mut out = Vec::with_capacity(ids.len());
    for &id in ids {
        if let Some(c) = credentials::get_credential(&mut conn, id).await? {
            out.push((id, c.doors));
        }
    }
    Ok(out)
}
