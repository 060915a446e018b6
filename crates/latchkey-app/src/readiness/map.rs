//! The readiness heat map: units × the 168 hours of the week for one failure, each cell the
//! fewest ways back in left to anyone living in the unit, worst units first. Staff of the
//! property only: a resident's own drill is [`App::readiness`].

use latchkey_core::drill::{Failure, Gap, gap_hours};
use latchkey_core::week::HOURS;
use latchkey_core::{PersonId, PropertyId, UnitId};
use serde::Serialize;

use super::Fallback;
use crate::authz::Staff;
use crate::{App, Result};

/// One resident's gaps after the map's failure.
#[derive(Clone, Debug, Serialize)]
pub struct HeatMapResident {
    pub person_id: PersonId,
    pub name: String,
    pub gaps: Vec<Gap>,
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
    pub async fn readiness_map(&self, staff: Staff<'_>, failure: Failure) -> Result<HeatMap> {
        let r = self.drill(staff.property(), None).await?;
        let mut units: Vec<HeatMapUnit> = Vec::new();
        for res in r.report {
            let Some(after) = res.failures.into_iter().find(|f| f.failure == failure) else {
                continue;
            };
            let row = match units.iter_mut().position(|u| u.unit_id == res.unit_id) {
                Some(i) => &mut units[i],
                None => {
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
        Ok(HeatMap {
            property_id: r.property_id,
            failure,
            week_from: r.week_from,
            units,
            fallback: r.fallback,
        })
    }
}
