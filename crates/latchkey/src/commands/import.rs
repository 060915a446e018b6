//! `latchkey import`: a building's units, entry doors and residents from a CSV file
//! (docs/OPERATIONS.md, "Importing a building").

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;
use latchkey_app::App;
use latchkey_app::onboarding::{ImportMode, ImportReport, MAX_BYTES};
use latchkey_core::PropertyId;

use crate::cli::ActingAs;
use crate::wiring::{acting_as, app_err};

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The property the building's units are added to.
    #[arg(long, value_name = "ID")]
    pub property: i64,
    /// The CSV file: header `unit,floor,door,resident_name,resident_email,role`, one line per
    /// resident (docs/OPERATIONS.md).
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Only check the file against the property: list what is wrong, write nothing.
    #[arg(long)]
    pub check: bool,
    /// Make an invitation link for each new person with an e-mail address and write them to
    /// this new file (CSV, readable by you only; each link is shown only there).
    #[arg(long, value_name = "FILE", conflicts_with = "check")]
    pub invitations: Option<PathBuf>,
    #[command(flatten)]
    pub acting: ActingAs,
}

/// Prints every wrong line on standard error and fails, or the summary.
///
/// # Errors
/// An unreadable file, an invitations file that exists already, an unknown property, or
/// storage failure.
pub async fn run(app: &App, args: &ImportArgs, link_base: &str) -> Result<ExitCode> {
    let who = acting_as(app, args.acting.as_email.as_deref()).await?;
    let importer = who.importer(PropertyId(args.property)).map_err(app_err)?;
    let file = read_limited(&args.file)?;
    // Opened before anything is written, so that links are never made with nowhere to go.
    let mut links = match &args.invitations {
        Some(path) => Some((create_private(path)?, path)),
        None => None,
    };
    let mode = if args.check {
        ImportMode::Check
    } else {
        ImportMode::Write {
            invite: links.is_some(),
        }
    };
    let report = app
        .import_building(importer, &file, mode)
        .await
        .map_err(app_err)?;
    if !report.errors.is_empty() {
        for e in &report.errors {
            eprintln!("{}: {e}", args.file.display());
        }
        eprintln!(
            "{} wrong; nothing was imported. Fix the lines and run the import again.",
            plural(report.errors.len(), "line is", "lines are")
        );
        return Ok(ExitCode::FAILURE);
    }
    if let Some((out, path)) = &mut links {
        out.write_all(invitations_csv(&report, link_base).as_bytes())
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    let counts = format!(
        "{}, {} and {}",
        plural(report.units, "unit", "units"),
        plural(report.doors, "entry door", "entry doors"),
        plural(report.people, "person", "people")
    );
    if report.written {
        println!("imported {counts} into property {}", args.property);
        match &links {
            Some((_, path)) => println!(
                "{} written to {} (single use; give each person theirs)",
                plural(
                    report.invitations.len(),
                    "invitation link",
                    "invitation links"
                ),
                path.display()
            ),
            None => println!(
                "no invitation links were made: make one per person with `latchkey person invite ID`"
            ),
        }
        println!(
            "see who still lacks a way back in: latchkey drill --property {}",
            args.property
        );
    } else {
        println!("the file is good: it would import {counts}; nothing was written");
    }
    Ok(ExitCode::SUCCESS)
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Reads the file, refusing one past the import's limit without reading it all.
fn read_limited(path: &Path) -> Result<Vec<u8>> {
    use std::io::Read;
    let f = std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut bytes = Vec::new();
    f.take(MAX_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("cannot read {}", path.display()))?;
    Ok(bytes)
}

/// Creates `path` (it must not exist) readable by this user only.
fn create_private(path: &Path) -> Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
        .open(path)
        .with_context(|| format!("cannot create {} (it must not exist yet)", path.display()))
}

fn invitations_csv(report: &ImportReport, link_base: &str) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut rows = vec![[
        "unit".to_owned(),
        "name".to_owned(),
        "email".to_owned(),
        "link".to_owned(),
        "valid_until".to_owned(),
    ]];
    for i in &report.invitations {
        rows.push([
            i.unit.clone(),
            i.name.clone(),
            i.email.clone(),
            latchkey_app::invitations::link(link_base, &i.invitation.token),
            i.invitation.expires_at.to_string(),
        ]);
    }
    for r in rows {
        // Writing into memory cannot fail.
        let _ = w.write_record(r);
    }
    String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
}
