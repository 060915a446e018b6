//! The building file, read line by line (docs/OPERATIONS.md, "Importing a building"). Pure:
//! bytes in, a plan of units with their door and residents out, or every line that is wrong.
//!
//! The rules, in order, for each line after the header:
//! 1. The file is at most [`MAX_BYTES`] and [`MAX_LINES`] lines; past either it is refused
//!    whole, before any line is read.
//! 2. A line has exactly the six columns of [`HEADER`]; a line with every column empty is
//!    skipped (spreadsheets end with such lines).
//! 3. Every column is UTF-8 text without control characters, within its length.
//! 4. `unit` is always given. The first line of a unit gives its `floor` and its entry `door`;
//!    its next lines (which follow it directly) may leave them empty or repeat them. A unit's
//!    label and a door's name appear once in the file.
//! 5. A line with a resident has `resident_name`; `resident_email` is optional (without it,
//!    the person cannot be invited) and appears once in the file; `role` is `resident` when
//!    empty, else one of [`UNIT_ROLES`].

use std::collections::HashMap;

use latchkey_core::model::Role;

use crate::auth::normalize_email;
use crate::directory::check_text;

/// The header row, in this order.
pub const HEADER: [&str; 6] = [
    "unit",
    "floor",
    "door",
    "resident_name",
    "resident_email",
    "role",
];
/// Largest file accepted, in bytes.
pub const MAX_BYTES: usize = 1024 * 1024;
/// Most lines accepted, the header included.
pub const MAX_LINES: u64 = 10_000;
/// The roles a line may give: those held in a unit.
pub const UNIT_ROLES: [Role; 4] = [
    Role::Resident,
    Role::Household,
    Role::Guest,
    Role::TrustedContact,
];

/// One thing wrong with the file: at a line, or (`line` = `None`) with the whole file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineError {
    pub line: Option<u64>,
    pub message: String,
}

impl std::fmt::Display for LineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(n) => write!(f, "line {n}: {}", self.message),
            None => write!(f, "the file: {}", self.message),
        }
    }
}

fn at(line: u64, message: impl Into<String>) -> LineError {
    LineError {
        line: Some(line),
        message: message.into(),
    }
}

fn whole(message: impl Into<String>) -> LineError {
    LineError {
        line: None,
        message: message.into(),
    }
}

/// A person of a unit, as a line gives them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResidentLine {
    pub line: u64,
    pub name: String,
    /// Lower-cased, as sign-in addresses are kept.
    pub email: Option<String>,
    pub role: Role,
}

/// A unit with its entry door and its people.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnitLine {
    /// The unit's first line.
    pub line: u64,
    pub label: String,
    pub floor: i64,
    pub door: String,
    pub residents: Vec<ResidentLine>,
}

/// Reads the file. Every error is listed, each with its line; the plan only when there is none.
///
/// # Errors
/// The errors, in line order (a whole-file error alone, first).
#[cfg(test)]
pub fn parse(bytes: &[u8]) -> Result<Vec<UnitLine>, Vec<LineError>> {
    let (units, errors) = read(bytes);
    if errors.is_empty() {
        Ok(units)
    } else {
        Err(errors)
    }
}

/// The units of the lines that are good, and the errors of the others, in line order; a
/// whole-file error comes alone, with no unit.
pub fn read(bytes: &[u8]) -> (Vec<UnitLine>, Vec<LineError>) {
    match read_lines(bytes) {
        Ok(read) => read,
        Err(e) => (Vec::new(), vec![e]),
    }
}

fn read_lines(bytes: &[u8]) -> Result<(Vec<UnitLine>, Vec<LineError>), LineError> {
    if bytes.len() > MAX_BYTES {
        return Err(whole(format!(
            "is larger than {MAX_BYTES} bytes (1 MiB): split it into several files"
        )));
    }
    // Spreadsheets often save UTF-8 with a byte-order mark.
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes);
    let mut records = Vec::new();
    for r in reader.byte_records() {
        let r = match r {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(0, csv::Position::line);
                return Err(at(line, format!("cannot be read as CSV: {e}")));
            }
        };
        let line = r.position().map_or(0, csv::Position::line);
        if line > MAX_LINES {
            return Err(whole(format!(
                "has more than {MAX_LINES} lines: split it into several files"
            )));
        }
        records.push((line, r));
    }
    let Some(((_, head), rows)) = records.split_first() else {
        return Err(whole(format!(
            "is empty; its first line is the header {}",
            HEADER.join(",")
        )));
    };
    let mut errors = Vec::new();
    let header_ok = head.len() == HEADER.len()
        && head.iter().zip(HEADER).all(|(got, want)| {
            std::str::from_utf8(got).is_ok_and(|g| g.trim().eq_ignore_ascii_case(want))
        });
    if !header_ok {
        errors.push(at(
            1,
            format!("the first line must be the header {}", HEADER.join(",")),
        ));
    }
    let mut reading = Reading::default();
    for (line, r) in rows {
        if let Err(e) = reading.line(*line, r) {
            errors.push(e);
        }
    }
    if reading.units.is_empty() && errors.is_empty() {
        errors.push(whole(
            "has no unit: add a line for each unit under the header",
        ));
    }
    Ok((reading.units, errors))
}

/// What the lines read so far have set.
#[derive(Default)]
struct Reading {
    units: Vec<UnitLine>,
    /// The first line of each unit label, door name and e-mail address seen.
    labels: HashMap<String, u64>,
    doors: HashMap<String, u64>,
    emails: HashMap<String, u64>,
    /// The unit whose first line was wrong: its next lines are read for their people only.
    broken: Option<String>,
}

impl Reading {
    fn line(&mut self, line: u64, r: &csv::ByteRecord) -> Result<(), LineError> {
        if r.iter().all(|f| f.iter().all(u8::is_ascii_whitespace)) {
            return Ok(());
        }
        if r.len() != HEADER.len() {
            return Err(at(
                line,
                format!(
                    "has {} columns; every line has {}: {} (a comma inside a name needs the name in double quotes)",
                    r.len(),
                    HEADER.len(),
                    HEADER.join(",")
                ),
            ));
        }
        let mut cols = Vec::with_capacity(HEADER.len());
        for (f, name) in r.iter().zip(HEADER) {
            let s = std::str::from_utf8(f).map_err(|_| {
                at(
                    line,
                    format!("{name} is not UTF-8 text: save the file as \"CSV UTF-8\""),
                )
            })?;
            cols.push(s.trim());
        }
        let [unit, floor, door, name, email, role] = cols[..] else {
            return Err(at(line, "has the wrong number of columns"));
        };
        let field = |col: &str, v: &str, max: usize| {
            check_text(col, v, max).map_err(|e| at(line, e.to_string()))
        };
        if unit.is_empty() {
            return Err(at(line, "unit is missing: every line names its unit"));
        }
        let label = field("unit", unit, 32)?;
        let broken = self.broken.as_ref() == Some(&label);
        let continues = broken
            || (self.broken.is_none() && self.units.last().is_some_and(|u| u.label == label));
        if broken {
            // Its first line is already named; its floor and door are not known.
        } else if continues {
            let u = self
                .units
                .last()
                .map_or((0, 0, ""), |u| (u.line, u.floor, u.door.as_str()));
            if !floor.is_empty() && floor.parse::<i64>().ok() != Some(u.1) {
                return Err(at(
                    line,
                    format!(
                        "unit {label} has floor {} on line {}; a unit's lines agree (or leave floor empty)",
                        u.1, u.0
                    ),
                ));
            }
            if !door.is_empty() && door != u.2 {
                return Err(at(
                    line,
                    format!(
                        "unit {label} has door \"{}\" on line {}; a unit's lines agree (or leave door empty)",
                        u.2, u.0
                    ),
                ));
            }
        } else {
            self.broken = None;
            if let Some(first) = self.labels.get(&label) {
                self.broken = Some(label.clone());
                return Err(at(
                    line,
                    format!(
                        "unit {label} is already on line {first}: a unit appears once, its lines one after another"
                    ),
                ));
            }
            self.labels.insert(label.clone(), line);
            self.broken = Some(label.clone());
            if floor.is_empty() {
                return Err(at(
                    line,
                    format!("floor is missing: the first line of unit {label} gives its floor"),
                ));
            }
            let floor = floor
                .parse::<i64>()
                .ok()
                .filter(|f| (-10..=300).contains(f))
                .ok_or_else(|| {
                    at(
                        line,
                        format!("floor `{floor}` is not a whole number between -10 and 300"),
                    )
                })?;
            if door.is_empty() {
                return Err(at(
                    line,
                    format!("door is missing: the first line of unit {label} names its entry door"),
                ));
            }
            let door = field("door", door, 100)?;
            if let Some(first) = self.doors.get(&door) {
                return Err(at(
                    line,
                    format!(
                        "door \"{door}\" is already on line {first}: each door has its own name"
                    ),
                ));
            }
            self.doors.insert(door.clone(), line);
            self.broken = None;
            self.units.push(UnitLine {
                line,
                label,
                floor,
                door,
                residents: Vec::new(),
            });
        }
        if [name, email, role].iter().all(|c| c.is_empty()) {
            return Ok(());
        }
        if name.is_empty() {
            return Err(at(
                line,
                "resident_name is missing: a line with an e-mail or a role names the person",
            ));
        }
        let name = field("resident_name", name, 200)?;
        let email = if email.is_empty() {
            None
        } else {
            let e = normalize_email(email).map_err(|_| {
                at(
                    line,
                    format!(
                        "resident_email `{email}` is not an e-mail address like name@example.org"
                    ),
                )
            })?;
            if let Some(first) = self.emails.get(&e) {
                return Err(at(
                    line,
                    format!("resident_email {e} is already on line {first}: each person once"),
                ));
            }
            self.emails.insert(e.clone(), line);
            Some(e)
        };
        let role = if role.is_empty() {
            Role::Resident
        } else {
            role.to_ascii_lowercase()
                .parse::<Role>()
                .ok()
                .filter(|r| UNIT_ROLES.contains(r))
                .ok_or_else(|| {
                    at(line, format!("role `{role}` is not one of resident, household, guest, trusted_contact (staff are added one by one)"))
                })?
        };
        if broken {
            return Ok(());
        }
        if let Some(u) = self.units.last_mut() {
            u.residents.push(ResidentLine {
                line,
                name,
                email,
                role,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
