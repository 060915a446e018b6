//! `latchkey bench storm`: N paired locks go offline at once (a broker restart), as the bridge
//! ingests it (batches of 1,000 messages, one transaction each), and the building's staff are
//! told. Prints the messages each staff member got per channel (the bound is 1 per window),
//! what the digest says, and how long the storm took: ingesting it (with the alarm notices it
//! writes) and then composing, routing and sending the digests. The clock is a manual one
//! moved past the offline grace and the digest window, so the bench does not wait them out;
//! the e-mail port records messages in memory (the relay is not what is measured).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::{Result, anyhow};
use latchkey_app::devices::IngestItem;
use latchkey_app::outbox::{Channels, Email, Mailer, OutboxConfig, Sending};
use latchkey_app::people::{MembershipInput, PersonInput};
use latchkey_app::secrets::Keys;
use latchkey_app::{App, AppConfig, ManualClock, NoDevices};
use latchkey_core::lock::{Availability, DeviceMessage};
use latchkey_core::model::Role;
use latchkey_store::Store;
use serde_json::json;

use super::TempDir;
use crate::wiring::app_err;

/// Messages per ingest transaction, as the bridge's default.
const BATCH: usize = 1_000;

/// Records each message it is given.
#[derive(Default)]
struct Inbox(Mutex<Vec<Email>>);

impl Mailer for Inbox {
    fn send<'a>(&'a self, email: &'a Email) -> Sending<'a> {
        Box::pin(async move {
            self.0
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(email.clone());
            Ok(())
        })
    }
}

async fn ingest_all(app: &App, locks: usize, a: Availability) -> Result<()> {
    let names: Vec<String> = (0..locks).map(|i| format!("lock-{i}")).collect();
    for chunk in names.chunks(BATCH) {
        let items = chunk
            .iter()
            .map(|name| IngestItem {
                identity: None,
                message: DeviceMessage::availability(name.clone(), a),
            })
            .collect();
        app.ingest(items).await.map_err(app_err)?;
    }
    Ok(())
}

/// # Errors
/// The temporary database cannot be written, or a staff member gets more than one message.
pub async fn run(locks: usize) -> Result<()> {
    let dir = TempDir::new("storm")?;
    let store = Store::open(&format!("sqlite://{}/storm.db", dir.0.display())).await?;
    let clock = Arc::new(ManualClock::new(jiff::Timestamp::now()));
    let config = AppConfig::default();
    let (window, grace) = (config.alarms.window, config.alarms.offline_grace);
    let app = App::new(
        store.clone(),
        Keys::from_master(&[0x5a; 32]),
        clock.clone(),
        Arc::new(NoDevices),
        config,
    );
    println!("writing a property with {locks} paired doors…");
    let (admin, property, _) =
        super::rig::paired_building(&app, locks, super::rig::LockProtocol::Zigbee).await?;
    let staff = [
        ("Maria Manager", "maria@example.org", Role::Manager),
        ("Omar On-call", "omar@example.org", Role::Manager),
        ("Ines Installer", "ines@example.org", Role::Installer),
    ];
    for (name, email, role) in staff {
        let input = PersonInput {
            name: name.into(),
            email: Some(email.into()),
            phone: None,
            password: None,
            membership: MembershipInput {
                role,
                unit_id: None,
                valid_from: None,
                valid_until: None,
            },
        };
        app.create_person(app.may_create_person(&admin, property, &input)?, input)
            .await
            .map_err(app_err)?;
    }
    let inbox = Arc::new(Inbox::default());
    let worker = app.outbox_worker(
        OutboxConfig {
            worker: "bench-storm".into(),
            ..OutboxConfig::default()
        },
        Channels {
            email: Some(inbox.clone() as Arc<dyn Mailer>),
            ..Channels::default()
        },
    );
    ingest_all(&app, locks, Availability::Online).await?;
    worker.pass().await.map_err(app_err)?;
    inbox.0.lock().unwrap_or_else(|p| p.into_inner()).clear();

    println!("{locks} locks go offline at once…");
    let t = Instant::now();
    ingest_all(&app, locks, Availability::Offline).await?;
    let ingest = t.elapsed();
    // The grace and the window pass (the manual clock moves; nothing is waited out).
    clock.advance(grace);
    worker.pass().await.map_err(app_err)?;
    clock.advance(window);
    let t = Instant::now();
    let mut sent = 0;
    loop {
        let p = worker.pass().await.map_err(app_err)?;
        sent += p.sent;
        if p == Default::default() {
            break;
        }
    }
    let route = t.elapsed();

    let got = inbox.0.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let mut per: BTreeMap<(String, &str), usize> = BTreeMap::new();
    for e in &got {
        *per.entry((e.to.clone(), "email")).or_default() += 1;
    }
    for ((to, channel), n) in &per {
        println!("  {to} via {channel}: {n} message(s)");
    }
    let most = per.values().copied().max().unwrap_or(0);
    if let Some(e) = got.first() {
        println!("  subject: {}", e.subject);
        if let Some(line) = e.text.lines().nth(2) {
            println!("  says:    {line}");
        }
    }
    println!(
        "ingesting the storm (alarm notices included): {:.0} ms; composing, routing and sending \
         the digests: {:.0} ms; {sent} message(s) to {} staff (at most {most} per person and \
         channel; the bound is 1 per {} s window)",
        ingest.as_secs_f64() * 1e3,
        route.as_secs_f64() * 1e3,
        staff.len(),
        window.as_secs()
    );
    let told_everyone = per.len() == staff.len();
    let counted = got
        .iter()
        .all(|e| e.text.contains(&format!("{locks} locks went offline")));
    println!(
        "{}",
        json!({
            "bench": "storm", "locks": locks, "staff": staff.len(), "messages": sent,
            "max_per_person_channel": most, "ingest_ms": ingest.as_millis() as u64,
            "route_ms": route.as_millis() as u64,
        })
    );
    app.close().await;
    if most > 1 || !told_everyone || !counted {
        return Err(anyhow!(
            "the storm was not told as one digest per person and channel with its count"
        ));
    }
    Ok(())
}
