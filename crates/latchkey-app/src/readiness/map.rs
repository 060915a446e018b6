//! The readiness heat map: units × the 168 hours of the week for one failure, each cell the
//! fewest ways back in left to anyone living in the unit, worst units first. Staff of the
//! property only: a resident's own drill is [`App::readiness`].
//!
//! Only the failure asked for is assessed, and the map is kept per property and failure until
//! the log says something it read may have changed (`cache.rs`), so a page load is usually one
//! read of the log's head.

use std::collections::HashMap;
use std::sync::Arc;

use latchkey_core::drill::{Failure, Gap, gap_hours};
use latchkey_core::week::HOURS;
use latchkey_core::{PersonId, PropertyId, UnitId};
use serde::Serialize;

use latchkey_store::audit;

use super::Fallback;
use crate::authz::Staff;
use crate::{App, Result};

/// At most this many log events are read by a page load that finds the follower behind; past
/// that the map is simply computed again.
const CATCH_UP_MAX: i64 = 1_000;

/// One resident's gaps after the map's failure.
#[derive(Clone, Debug, Serialize)]
pub struct HeatMapResident {
    pub person_id: PersonId,
    pub name: String,
    pub gaps: Vec<Gap>,
    /// Their PIN counts but is only assumed on the lock (it cannot show which code it holds).
    pub pin_assumed: bool,
}

/// One row of the map.
#[derive(Clone, Debug, Serialize)]
pub struct HeatMapUnit {
    pub unit_id: UnitId,
    pub unit: String,
    /// For each hour of the week (Monday 00:00 first), the fewest ways left to a resident.
    pub cells: Vec<u8>,
    /// The fewest ways left at any hour.
    pub worst: u8,
    /// Resident-hours with fewer than two ways left.
    pub short_hours: usize,
    pub residents: Vec<HeatMapResident>,
}

impl HeatMapUnit {
    /// Who has a gap at hour `h`, and the gap.
    pub fn gaps_at(&self, h: usize) -> Vec<(&str, &Gap)> {
        self.residents
            .iter()
            .flat_map(|r| r.gaps.iter().map(move |g| (r.name.as_str(), g)))
            .filter(|(_, g)| gap_hours(g).contains(h))
            .collect()
    }
}

/// The heat map of a property for one failure.
#[derive(Clone, Debug, Serialize)]
pub struct HeatMap {
    pub property_id: PropertyId,
    pub failure: Failure,
    /// The local date the week starts on.
    pub week_from: String,
    /// Worst first: the fewest ways at any hour, then the most short resident-hours.
    pub units: Vec<HeatMapUnit>,
    pub fallback: Fallback,
}

impl App {
    /// The readiness heat map of the staff member's property after `failure`.
    ///
    /// # Errors
    /// `Store` when the building cannot be read.
    pub async fn readiness_map(&self, staff: Staff<'_>, failure: Failure) -> Result<Arc<HeatMap>> {
        let property = staff.property();
        // The follower observes every event from its start; a map is only kept after it runs.
        self.follow_log().await?;
        let cache = &self.inner.readiness;
        let head = {
            let mut conn = self.store().read().await?;
            let head = audit::read_head(&mut conn).await?.0;
            // What another process committed and the follower has not read yet: look now.
            let seen = cache.seen();
            if seen < head && head - seen <= CATCH_UP_MAX {
                for e in audit::after(&mut conn, seen, head - seen).await? {
                    cache.observe(&e);
                }
            }
            head
        };
        if let Some(map) = cache.get(property, failure, head, self.now()) {
            return Ok(map);
        }
        let r = self.drill_after(property, None, &[failure]).await?;
        let until = r.unchanged_until;
        let map = Arc::new(heat_map(r, failure));
        cache.put(head, until, map.clone());
        Ok(map)
    }
}

/// The drill's report as rows of units, worst first.
fn heat_map(r: super::Readiness, failure: Failure) -> HeatMap {
    let mut units: Vec<HeatMapUnit> = Vec::new();
    let mut row_of: HashMap<UnitId, usize> = HashMap::new();
    for res in r.report {
        let Some(after) = res.failures.into_iter().find(|f| f.failure == failure) else {
            continue;
        };
        let row = match row_of.get(&res.unit_id) {
            Some(&i) => &mut units[i],
            None => {
                row_of.insert(res.unit_id, units.len());
                units.push(HeatMapUnit {
                    unit_id: res.unit_id,
                    unit: res.unit.clone(),
                    cells: vec![u8::MAX; HOURS],
                    worst: u8::MAX,
                    short_hours: 0,
                    residents: Vec::new(),
                });
                let last = units.len() - 1;
                &mut units[last]
            }
        };
        for (cell, n) in row.cells.iter_mut().zip(after.counts) {
            *cell = (*cell).min(n);
        }
        row.short_hours += after.short_hours;
        row.residents.push(HeatMapResident {
            person_id: res.person_id,
            name: res.name,
            gaps: after.gaps,
            pin_assumed: after.pin_assumed,
        });
    }
    for u in &mut units {
        u.worst = u.cells.iter().copied().min().unwrap_or(0);
    }
    units.sort_by(|a, b| {
        a.worst
            .cmp(&b.worst)
            .then(b.short_hours.cmp(&a.short_hours))
            .then(a.unit.cmp(&b.unit))
    });
    HeatMap {
        property_id: r.property_id,
        failure,
        week_from: r.week_from,
        units,
        fallback: r.fallback,
    }
}
