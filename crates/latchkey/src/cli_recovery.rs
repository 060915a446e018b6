//! Command-line types for lockout recovery: the readiness drill, spare keys, the on-call roster
//! and locksmiths. Parsing only; `commands::recovery` does the work.

use clap::{Args, Subcommand};

use crate::cli::ActingAs;

/// `latchkey drill`.
#[derive(Debug, Args)]
pub struct DrillArgs {
    /// The property (default: every property the caller may see).
    #[arg(long, value_name = "ID")]
    pub property: Option<i64>,
    /// Print the whole report as JSON instead of a summary with the gaps.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub acting: ActingAs,
}

#[derive(Debug, Subcommand)]
pub enum SpareKeyCommand {
    /// Give a person a dormant spare key to a unit (usable only in a proven lockout case).
    Grant {
        #[arg(long, value_name = "ID")]
        property: i64,
        #[arg(long, value_name = "ID")]
        unit: i64,
        /// The person who holds the key (they need standing at the property, e.g. as a
        /// trusted contact).
        #[arg(long, value_name = "PERSON_ID")]
        holder: i64,
        /// When the holder can usually be reached, as a schedule in JSON (default: always).
        #[arg(long, value_name = "JSON")]
        reachable: Option<String>,
        #[command(flatten)]
        acting: ActingAs,
    },
    /// Spare keys of a property.
    List {
        #[arg(long, value_name = "ID")]
        property: i64,
        #[command(flatten)]
        acting: ActingAs,
    },
    /// Revoke a spare key.
    Revoke {
        id: i64,
        #[command(flatten)]
        acting: ActingAs,
    },
}

#[derive(Debug, Subcommand)]
pub enum OnCallCommand {
    /// Put a manager or installer on call (replaces their hours).
    Set {
        #[arg(long, value_name = "ID")]
        property: i64,
        #[arg(long, value_name = "PERSON_ID")]
        person: i64,
        /// When they answer, as a schedule in JSON, e.g.
        /// '{"type":"weekly","windows":[{"days":["mon","tue"],"start":"18:00","end":"08:00"}]}'.
        #[arg(long, value_name = "JSON")]
        schedule: String,
        #[command(flatten)]
        acting: ActingAs,
    },
    /// The on-call roster of a property.
    List {
        #[arg(long, value_name = "ID")]
        property: i64,
        #[command(flatten)]
        acting: ActingAs,
    },
}

#[derive(Debug, Subcommand)]
pub enum LocksmithCommand {
    /// Register a locksmith company (it is offered to residents only once verified).
    Add {
        #[arg(long, value_name = "ID")]
        property: i64,
        #[arg(long)]
        company: String,
        #[arg(long)]
        licence: String,
        #[arg(long)]
        phone: String,
        /// Quoted call-out price in cents.
        #[arg(long, default_value_t = 0)]
        callout_cents: i64,
        /// When they take jobs, as a schedule in JSON (default: always).
        #[arg(long, value_name = "JSON")]
        hours: Option<String>,
        #[command(flatten)]
        acting: ActingAs,
    },
    /// Locksmiths of a property.
    List {
        #[arg(long, value_name = "ID")]
        property: i64,
        #[command(flatten)]
        acting: ActingAs,
    },
    /// Record that a locksmith's licence and identity were checked (or suspend them).
    Verify {
        id: i64,
        /// verified, suspended or unverified.
        #[arg(long, default_value = "verified")]
        status: String,
        #[command(flatten)]
        acting: ActingAs,
    },
}

#[derive(Debug, Subcommand)]
pub enum LockoutCommand {
    /// Open a case for a resident on the phone (staff), or for yourself (`--as` your e-mail).
    Start {
        #[arg(long, value_name = "ID")]
        property: i64,
        #[arg(long, value_name = "ID")]
        unit: i64,
        #[arg(long, value_name = "PERSON_ID")]
        person: i64,
        #[command(flatten)]
        acting: ActingAs,
    },
    /// The property's cases, newest first.
    List {
        #[arg(long, value_name = "ID")]
        property: i64,
        #[command(flatten)]
        acting: ActingAs,
    },
    /// A case: its timeline and the ways back in, assessed now.
    Show {
        id: i64,
        #[command(flatten)]
        acting: ActingAs,
    },
    /// Cancel an open case (the household is told).
    Cancel {
        id: i64,
        #[command(flatten)]
        acting: ActingAs,
    },
    /// Record that you checked the person's identity document in person (staff).
    IdCheck {
        id: i64,
        /// What was checked, e.g. "passport, photo matches".
        #[arg(long)]
        document: String,
        #[command(flatten)]
        acting: ActingAs,
    },
    /// Send a verified locksmith: prints the check word and the job token for the locksmith.
    Locksmith {
        id: i64,
        #[arg(long, value_name = "LOCKSMITH_ID")]
        locksmith: i64,
        /// The door (default: the unit's first door with a lock).
        #[arg(long, value_name = "DOOR_ID")]
        door: Option<i64>,
        /// Minutes the job's window lasts from now (15–480).
        #[arg(long, default_value_t = 120)]
        window_minutes: u32,
        #[command(flatten)]
        acting: ActingAs,
    },
    /// Record what the locksmith did and what it cost (staff): ledger, service mark, case closed.
    LocksmithDone {
        /// The job's id.
        job: i64,
        #[arg(long)]
        cost_cents: i64,
        /// code, battery_jump, picking, drilling or other.
        #[arg(long)]
        work: String,
        #[command(flatten)]
        acting: ActingAs,
    },
    /// Record that the door was forced: it is marked compromised and its PINs are replaced.
    ForcedEntry {
        id: i64,
        #[arg(long, value_name = "DOOR_ID")]
        door: i64,
        /// What was done, e.g. "door kicked in".
        #[arg(long)]
        how: String,
        #[command(flatten)]
        acting: ActingAs,
    },
}

/// `latchkey ledger`.
#[derive(Debug, Args)]
pub struct LedgerArgs {
    #[arg(long, value_name = "ID")]
    pub property: i64,
    /// One unit only.
    #[arg(long, value_name = "ID")]
    pub unit: Option<i64>,
    /// CSV (for a spreadsheet or the accounts) instead of a table.
    #[arg(long)]
    pub csv: bool,
    #[command(flatten)]
    pub acting: ActingAs,
}

#[derive(Debug, Subcommand)]
pub enum IncidentCommand {
    /// Doors marked for service or compromised, open ones first.
    List {
        #[arg(long, value_name = "ID")]
        property: i64,
        #[command(flatten)]
        acting: ActingAs,
    },
    /// Close an incident once the door is repaired.
    Close {
        id: i64,
        /// What was done, e.g. "lock replaced".
        #[arg(long)]
        note: String,
        #[command(flatten)]
        acting: ActingAs,
    },
}
