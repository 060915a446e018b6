//! `latchkey audit verify|head|retention` and `latchkey export`.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use latchkey_app::App;
use latchkey_app::store::audit::EventFilter;
use latchkey_app::store::records::Event;
use latchkey_core::PropertyId;

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
    let n = app.audit_len().await.map_err(app_err)?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// Applies retention now and says what it did.
///
/// # Errors
/// The database fails.
pub async fn retention(app: &App) -> Result<()> {
    let r = app.apply_retention().await.map_err(app_err)?;
    println!(
        "retention applied: {} personal events redacted, {} people erased after moving out",
        r.redacted, r.erased
    );
    println!(
        "outbox pruned: {} sent deliveries, {} dead letters, {} notifications, {} untold alarm notices",
        r.outbox.sent, r.outbox.dead, r.outbox.notifications, r.outbox.alarm_notices
    );
    Ok(())
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
    let (seq, hash) = app.audit_head().await.map_err(app_err)?;
    println!("{seq} {}", hex::encode(hash));
    Ok(())
}

/// Where exported events go: JSON lines, or CSV (RFC 4180, CRLF line ends, as the ledger).
enum Sink {
    Jsonl(Box<dyn Write>),
    Csv(Box<csv::Writer<Box<dyn Write>>>),
}

impl Sink {
    fn new(out: Box<dyn Write>, format: ExportFormat) -> Result<Sink> {
        Ok(match format {
            ExportFormat::Jsonl => Sink::Jsonl(out),
            ExportFormat::Csv => {
                let mut csv = csv::WriterBuilder::new()
                    .terminator(csv::Terminator::CRLF)
                    .from_writer(out);
                csv.write_record([
                    "seq",
                    "at",
                    "property_id",
                    "actor_id",
                    "kind",
                    "subject",
                    "data",
                ])?;
                Sink::Csv(Box::new(csv))
            }
        })
    }

    fn write(&mut self, e: &Event) -> Result<()> {
        match self {
            Sink::Jsonl(out) => {
                serde_json::to_writer(&mut *out, e)?;
                writeln!(out)?;
            }
            Sink::Csv(csv) => {
                let opt = |v: Option<i64>| v.map(|x| x.to_string()).unwrap_or_default();
                csv.write_record([
                    e.seq.to_string(),
                    e.at.to_string(),
                    opt(e.property_id.map(|p| p.0)),
                    opt(e.actor_id.map(|p| p.0)),
                    e.kind.clone(),
                    e.subject.clone(),
                    e.data.to_string(),
                ])?;
            }
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        match self {
            Sink::Jsonl(out) => out.flush()?,
            Sink::Csv(csv) => csv.flush()?,
        }
        Ok(())
    }
}

/// Writes the event log, newest first, paging backwards with the `before` cursor.
///
/// # Errors
/// The output cannot be written, or the log cannot be read.
pub async fn export(app: &App, args: &ExportArgs) -> Result<()> {
    let who = acting_as(app, args.acting.as_email.as_deref()).await?;
    let out: Box<dyn Write> = match &args.output {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path)
                .with_context(|| format!("cannot create {}", path.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let mut out = Sink::new(out, args.format)?;
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
            out.write(e)?;
        }
        written += page.len() as u64;
        pb.set_position(written);
    }
    out.flush()?;
    pb.finish_and_clear();
    eprintln!("exported {written} events");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `Write` whose bytes stay readable after the sink is dropped.
    #[derive(Clone, Default)]
    struct Shared(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .map_err(|_| std::io::ErrorKind::Other)?
                .extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn csv_export_quotes_commas_quotes_and_line_breaks_and_ends_lines_with_crlf() {
        let buf = Shared::default();
        let mut sink = Sink::new(Box::new(buf.clone()), ExportFormat::Csv).expect("header");
        let event = Event {
            seq: 7,
            at: jiff::Timestamp::UNIX_EPOCH,
            property_id: Some(PropertyId(1)),
            actor_id: None,
            kind: "door.renamed".into(),
            subject: "door:3".into(),
            data: serde_json::json!({"name": "Back, \"garden\"\ndoor"}),
        };
        sink.write(&event).expect("row");
        sink.flush().expect("flush");
        drop(sink);
        let text = String::from_utf8(buf.0.lock().expect("lock").clone()).expect("utf-8");
        let mut lines = text.split("\r\n");
        assert_eq!(
            lines.next(),
            Some("seq,at,property_id,actor_id,kind,subject,data")
        );
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let row = reader.records().next().expect("a row").expect("valid CSV");
        assert_eq!(&row[0], "7");
        assert_eq!(&row[3], "");
        let data: serde_json::Value = serde_json::from_str(&row[6]).expect("JSON data");
        assert_eq!(data["name"], "Back, \"garden\"\ndoor");
    }
}
