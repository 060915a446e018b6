//! Onboarding a building from a file: its units, each unit's entry door, and the people who
//! live there (docs/OPERATIONS.md, "Importing a building").
//!
//! Validate, plan, write:
//! 1. The file is read whole ([`parse`]); every wrong line is listed with its line number.
//! 2. Under the write transaction, each good line's unit label and door name is checked against the
//!    property: an import adds a building, it never changes or repeats one, so a label or name
//!    already there is an error on its line (decision 69: re-importing a file is refused, line
//!    by line, and writes nothing).
//! 3. Only when no line is wrong is anything written, all in that one transaction, with the
//!    events the one-by-one use cases write (`unit.created`, `door.created`, `person.created`,
//!    `membership.created`, `person.invitation_created`) and one `property.imported` with the
//!    counts. A check ([`ImportMode::Check`]) stops before writing.
//!
//! People are added as [`App::create_person`] adds them: an address that is already someone's
//! sign-in address is kept unconfirmed and its owner told, so an import never reveals who has
//! an account.

mod parse;
mod write;

pub use parse::{HEADER, LineError, MAX_BYTES, MAX_LINES, ResidentLine, UNIT_ROLES, UnitLine};

use std::collections::HashSet;

use latchkey_store::property as repo;

use crate::authz::Importer;
use crate::invitations::NewInvitation;
use crate::{App, Result};

/// What an import call does once the file is good.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImportMode {
    /// Check the file against the property and write nothing.
    Check,
    /// Write it; with `invite`, make an invitation link for each new person with an e-mail
    /// address (each shown once, in [`ImportReport::invitations`]).
    Write { invite: bool },
}

/// What an import found, and did.
#[derive(Default)]
pub struct ImportReport {
    /// Every wrong line, in order; when there is one, nothing was written.
    pub errors: Vec<LineError>,
    /// What the file holds (written when [`ImportReport::written`]).
    pub units: usize,
    pub doors: usize,
    pub people: usize,
    pub written: bool,
    /// The links made, one per person with an e-mail address; the tokens are shown only here.
    pub invitations: Vec<ImportedInvitation>,
}

/// An invitation link made by an import, with whom it is for.
pub struct ImportedInvitation {
    pub name: String,
    pub email: String,
    pub unit: String,
    pub invitation: NewInvitation,
}

impl ImportReport {
    fn refused(errors: Vec<LineError>) -> ImportReport {
        ImportReport {
            errors,
            ..ImportReport::default()
        }
    }
}

impl App {
    /// Checks a building file and, in [`ImportMode::Write`] when every line is good, adds its
    /// units, doors and people to the importer's property in one transaction.
    ///
    /// A file with wrong lines is not an error of the call: the report lists them and nothing
    /// is written.
    ///
    /// # Errors
    /// `NotFound` when the property does not exist; `Store` on a failed read or write (nothing
    /// is written then either).
    pub async fn import_building(
        &self,
        importer: Importer<'_>,
        file: &[u8],
        mode: ImportMode,
    ) -> Result<ImportReport> {
        let (units, mut errors) = parse::read(file);
        if errors.iter().any(|e| e.line.is_none()) {
            return Ok(ImportReport::refused(errors));
        }
        let mut tx = self.store().write().await?;
        let property = importer.property();
        // Admins stand at every property id, so the property itself may still be missing.
        crate::directory::load_property(tx.conn(), property).await?;
        let labels: HashSet<String> = repo::list_units(tx.conn(), property)
            .await?
            .into_iter()
            .map(|u| u.label)
            .collect();
        let doors: HashSet<String> = repo::list_doors(tx.conn(), property)
            .await?
            .into_iter()
            .map(|d| d.name)
            .collect();
        // The lines that are good are checked against the property too: every error at once.
        errors.extend(taken(&units, &labels, &doors));
        errors.sort_by_key(|e| e.line);
        if !errors.is_empty() {
            return Ok(ImportReport::refused(errors));
        }
        let mut report = ImportReport {
            units: units.len(),
            doors: units.len(),
            people: units.iter().map(|u| u.residents.len()).sum(),
            ..ImportReport::default()
        };
        let ImportMode::Write { invite } = mode else {
            return Ok(report);
        };
        let (events, invitations) = write::write(self, &mut tx, &importer, &units, invite).await?;
        self.commit_with(tx, events).await?;
        report.written = true;
        report.invitations = invitations;
        Ok(report)
    }
}

/// The lines whose unit label or door name the property already has, in line order.
fn taken(units: &[UnitLine], labels: &HashSet<String>, doors: &HashSet<String>) -> Vec<LineError> {
    let mut errors = Vec::new();
    for u in units {
        if labels.contains(&u.label) {
            errors.push(LineError {
                line: Some(u.line),
                message: format!(
                    "unit {} already exists in this property (an import only adds new units; \
                     was this file imported already?)",
                    u.label
                ),
            });
        } else if doors.contains(&u.door) {
            errors.push(LineError {
                line: Some(u.line),
                message: format!(
                    "door \"{}\" already exists in this property: give this unit's door another name",
                    u.door
                ),
            });
        }
    }
    errors
}
