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
}
