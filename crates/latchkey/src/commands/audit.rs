//! `latchkey audit verify|head` and `latchkey export`.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result, anyhow};
use indicatif::{ProgressBar, ProgressStyle};
use latchkey_app::App;
use latchkey_core::PropertyId;
use latchkey_store::audit::{self, EventFilter};
use latchkey_store::records::Event;

use crate::cli::{ExportArgs, ExportFormat};
use crate::wiring::{acting_as, app_err};

fn bar(total: u64, what: &str) -> ProgressBar {
    let pb = ProgressBar::new(total);
    let style = ProgressStyle::with_template(&format!(
        "{what} {{bar:40}} {{pos}}/{{len}} events ({{per_sec}}, {{eta}} left)"
    ))
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    pb.set_style(style);
    pb
}

async fn event_count(app: &App) -> Result<u64> {
    let mut conn = app
        .store()
        .read()
        .await
        .map_err(|e| anyhow!("storage failed: {e}"))?;
    let n = audit::count(&mut conn)
        .await
        .map_err(|e| anyhow!("storage failed: {e}"))?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// Exit 0 and "intact" for a whole chain that holds every anchor of `anchor_file`; exit 1
/// naming the first break or the first anchor that does not hold.
///
/// # Errors
/// The log or the anchor file cannot be read.
pub async fn verify(app: &App, anchor_file: Option<&Path>) -> Result<ExitCode> {
    let anchors = anchor_file
        .map(|path| {
            std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the anchor file {}", path.display()))
        })
        .transpose()?;
    let pb = bar(event_count(app).await?, "verifying");
    let outcome = app
        .verify_audit(|n| pb.set_position(n))
        .await
        .map_err(app_err)?;
    pb.finish_and_clear();
    let summary = match outcome {
        Ok(summary) => summary,
        Err(brk) => {
            println!("audit chain broken: {brk}");
            return Ok(ExitCode::from(1));
        }
    };
    let intact = format!(
        "audit chain intact: {} events, head {}",
        summary.events,
        hex::encode(summary.head)
    );
    let Some(text) = anchors else {
        println!("{intact}");
        return Ok(ExitCode::SUCCESS);
    };
    match app
        .check_anchors(&text, summary.last_seq)
        .await
        .map_err(app_err)?
    {
        Ok(held) => {
            println!(
                "{intact}; {} anchors hold, the latest for event {} written {}",
                held.anchors, held.latest.seq, held.latest.at
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(brk) => {
            println!("audit chain broken: {brk}");
            Ok(ExitCode::from(1))
        }
    }
}

/// # Errors
/// The head cannot be read.
pub async fn head(app: &App) -> Result<()> {
    let mut conn = app
        .store()
        .read()
        .await
        .map_err(|e| anyhow!("storage failed: {e}"))?;
    let (seq, hash) = audit::read_head(&mut conn)
        .await
        .map_err(|e| anyhow!("storage failed: {e}"))?;
    println!("{seq} {}", hex::encode(hash));
    Ok(())
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

fn write_event(out: &mut dyn Write, format: ExportFormat, e: &Event) -> Result<()> {
    match format {
        ExportFormat::Jsonl => {
            serde_json::to_writer(&mut *out, e)?;
            writeln!(out)?;
        }
        ExportFormat::Csv => {
            let opt = |v: Option<i64>| v.map(|x| x.to_string()).unwrap_or_default();
            writeln!(
                out,
                "{},{},{},{},{},{},{}",
                e.seq,
                e.at,
                opt(e.property_id.map(|p| p.0)),
                opt(e.actor_id.map(|p| p.0)),
                csv_field(&e.kind),
                csv_field(&e.subject),
                csv_field(&e.data.to_string())
            )?;
        }
    }
    Ok(())
}

/// Writes the event log, newest first, paging backwards with the `before` cursor.
///
/// # Errors
/// The output cannot be written, or the log cannot be read.
pub async fn export(app: &App, args: &ExportArgs) -> Result<()> {
    let who = acting_as(app, args.acting.as_email.as_deref()).await?;
    let mut out: Box<dyn Write> = match &args.output {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path)
                .with_context(|| format!("cannot create {}", path.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    if let ExportFormat::Csv = args.format {
        writeln!(out, "seq,at,property_id,actor_id,kind,subject,data")?;
    }
    let pb = bar(event_count(app).await?, "exporting");
    let mut before = None;
    let mut written = 0u64;
    loop {
        let filter = EventFilter {
            since: args.since,
            until: args.until,
            before,
            limit: latchkey_app::events::MAX_PAGE,
            ..Default::default()
        };
        let page = app
            .list_events(&who, args.property.map(PropertyId), filter)
            .await
            .map_err(app_err)?;
        let Some(last) = page.last() else { break };
        before = Some(last.seq);
        for e in &page {
            write_event(&mut out, args.format, e)?;
        }
        written += page.len() as u64;
        pb.set_position(written);
    }
    out.flush()?;
    pb.finish_and_clear();
    eprintln!("exported {written} events");
    Ok(())
}
