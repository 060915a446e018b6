//! A Z-Wave gateway session as the app's link to its Z-Wave locks: the port sends each
//! [`LockCommand`] for a `zwave/<node>` address to the session ([`ZwaveLink::send`]), and
//! [`run_events`] hands what the session learns to ingestion as the core's
//! [`DeviceMessage`]s — the lock nodes it lists, their reports and availability, and each
//! command's outcome (a confirmed code is a read-back holding it, an assumed one a masked
//! read-back; see [`super::translate`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use latchkey_app::App;
use latchkey_app::devices::IngestItem;
use latchkey_core::lock::{AnnouncedDevice, Availability, DeviceMessage, LockCommand, LockProfile};
use latchkey_mqtt::ConnState;
use tokio::sync::{mpsc, watch};

use super::translate::{self, address};
use super::{FailReason, JobId, LockNode, Outcome, ZwaveCommand, ZwaveEvent, ZwaveGateway};

/// Commands submitted and not answered yet, by job.
type Jobs = Arc<Mutex<HashMap<JobId, LockCommand>>>;

fn jobs(j: &Jobs) -> MutexGuard<'_, HashMap<JobId, LockCommand>> {
    j.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Most events handed to ingestion in one transaction.
const BATCH_MAX: usize = 500;

/// The port's handle on the session.
pub struct ZwaveLink {
    submit: mpsc::UnboundedSender<(ZwaveCommand, LockCommand)>,
    state: watch::Receiver<ConnState>,
}

impl ZwaveLink {
    /// A link over `gateway`, whose MQTT session is in `state`, and the job book
    /// [`run_events`] reads outcomes against.
    pub fn new(gateway: ZwaveGateway, state: watch::Receiver<ConnState>) -> (ZwaveLink, ZwaveJobs) {
        let book: Jobs = Arc::default();
        let (tx, mut rx) = mpsc::unbounded_channel::<(ZwaveCommand, LockCommand)>();
        let submitted = Arc::clone(&book);
        tokio::spawn(async move {
            while let Some((c, command)) = rx.recv().await {
                match gateway.submit(c).await {
                    Some(job) => {
                        jobs(&submitted).insert(job, command);
                    }
                    None => return,
                }
            }
        });
        (
            ZwaveLink { submit: tx, state },
            ZwaveJobs {
                jobs: book,
                profiles: HashMap::new(),
            },
        )
    }

    /// Whether the session is connected to the broker.
    pub fn connected(&self) -> bool {
        matches!(*self.state.borrow(), ConnState::Connected)
    }

    /// Queues `command` for `node`.
    ///
    /// # Errors
    /// Why it cannot be sent: it has no Z-Wave form, or the session has ended.
    pub fn send(&self, node: u16, command: &LockCommand) -> Result<(), String> {
        let c = translate::command(node, command)?;
        self.submit
            .send((c, command.clone()))
            .map_err(|_| "the Z-Wave gateway session has ended".to_owned())
    }
}

/// The commands in flight, shared by the link and [`run_events`], and what each lock node's
/// reports prove (its profile, from the gateway's node list).
pub struct ZwaveJobs {
    jobs: Jobs,
    profiles: HashMap<u16, LockProfile>,
}

impl ZwaveJobs {
    /// Node `node`'s profile: its model's, or the cautious Z-Wave default before the gateway
    /// listed it.
    fn profile(&self, node: u16) -> LockProfile {
        self.profiles
            .get(&node)
            .copied()
            .unwrap_or(LockProfile::ZWAVE)
    }
}

/// The core's messages for one session event.
fn messages(event: ZwaveEvent, book: &mut ZwaveJobs) -> Vec<DeviceMessage> {
    match event {
        ZwaveEvent::Nodes(nodes) => {
            book.profiles = nodes
                .iter()
                .map(|n| (n.id, translate::profile(n)))
                .collect();
            let mut out = vec![DeviceMessage::Devices(
                nodes.iter().map(announced).collect(),
            )];
            out.extend(nodes.iter().filter_map(|n| {
                n.availability
                    .map(|a| DeviceMessage::availability(address(n.id), translate::availability(a)))
            }));
            out
        }
        ZwaveEvent::Report { node, report } => match report {
            latchkey_zwave::Report::Availability(a) => vec![DeviceMessage::availability(
                address(node),
                translate::availability(a),
            )],
            other => translate::report(&other)
                .map(|r| DeviceMessage::reports(address(node), book.profile(node), vec![r]))
                .into_iter()
                .collect(),
        },
        ZwaveEvent::Outcome {
            job, node, outcome, ..
        } => {
            let Some(command) = jobs(&book.jobs).remove(&job) else {
                return Vec::new();
            };
            if outcome == Outcome::Offline {
                return vec![DeviceMessage::availability(
                    address(node),
                    Availability::Offline,
                )];
            }
            if let (LockCommand::Lock | LockCommand::Unlock, Outcome::Failed(why)) =
                (&command, &outcome)
            {
                // The command waiting for this answer fails with the lock's reason.
                return vec![DeviceMessage::Undelivered {
                    device: address(node),
                    what: "targetMode".to_owned(),
                    error: reason(why),
                    position: true,
                }];
            }
            let reports = translate::outcome(&command, &outcome);
            if reports.is_empty() {
                Vec::new()
            } else {
                vec![DeviceMessage::reports(
                    address(node),
                    book.profile(node),
                    reports,
                )]
            }
        }
        ZwaveEvent::Gateway { online } => {
            tracing::info!(online, "the Z-Wave gateway's state changed");
            Vec::new()
        }
    }
}

/// A failed lock or unlock's reason, in words.
fn reason(why: &FailReason) -> String {
    match why {
        FailReason::Jammed => "the lock reported a jam while moving".to_owned(),
        FailReason::NotMoved => "the bolt did not reach the position asked".to_owned(),
        FailReason::Refused(m) => format!("the Z-Wave gateway refused it: {m}"),
        FailReason::Unsupported => "the lock does not support this command".to_owned(),
        FailReason::UnknownNode => {
            "the Z-Wave gateway does not list this node as a lock".to_owned()
        }
        FailReason::Superseded => "a later command replaced it while it waited".to_owned(),
        FailReason::NoSuchSlot | FailReason::NotLanded => format!("{why:?}"),
    }
}

fn announced(n: &LockNode) -> AnnouncedDevice {
    AnnouncedDevice {
        name: address(n.id),
        hardware_id: Some(format!("zwave node {}", n.id)),
        model: (!n.product_label.is_empty()).then(|| n.product_label.clone()),
        vendor: n.manufacturer_id.map(|m| {
            translate::manufacturer(m).map_or_else(
                || format!("Z-Wave manufacturer 0x{m:04x}"),
                ToOwned::to_owned,
            )
        }),
        is_lock: true,
        has_keypad: n.capacity > 0,
    }
}

/// Most lock reports held while this replica does not know yet whether it holds the lease.
const HELD_MAX: usize = 10_000;

/// Hands the session's events to ingestion, in batches, until the session ends. A batch the
/// database refuses is retried a few times, then dropped with an error in the log (the
/// reconciler's timeouts write again what it did not confirm).
///
/// Every replica's session hears every lock, so what the locks say (reports, the node list) is
/// applied only by the replica holding the device lease ([`App::device_lease`]), and held until
/// the replica knows; the outcome of a command is applied by the replica that sent it. A replica
/// that takes the lease over asks its Z-Wave locks where their bolts are, since what they said
/// while no replica listened is lost (docs/ARCHITECTURE.md, decision 94).
pub async fn run_events(app: App, mut events: mpsc::Receiver<ZwaveEvent>, mut book: ZwaveJobs) {
    let mut lease = app.device_lease();
    let mut was = *lease.borrow_and_update();
    let mut held: Vec<DeviceMessage> = Vec::new();
    let mut lease_open = true;
    loop {
        let first = tokio::select! {
            e = events.recv() => match e {
                Some(e) => e,
                None => return,
            },
            changed = lease.changed(), if lease_open => {
                if changed.is_err() {
                    lease_open = false;
                    continue;
                }
                let now = *lease.borrow_and_update();
                match (was, now) {
                    (None, Some(true)) => apply(&app, std::mem::take(&mut held)).await,
                    (Some(false), Some(true)) => ask_after_takeover(&app),
                    (_, Some(false)) => held.clear(),
                    _ => {}
                }
                was = now;
                continue;
            }
        };
        // In the session's order (a jam report before the failed command it causes), each
        // message marked as what a lock said or as this replica's own command's outcome.
        let mut batch: Vec<(bool, DeviceMessage)> = Vec::new();
        let mut take = |e: ZwaveEvent, book: &mut ZwaveJobs| {
            let said = !matches!(e, ZwaveEvent::Outcome { .. });
            batch.extend(messages(e, book).into_iter().map(|m| (said, m)));
        };
        take(first, &mut book);
        for _ in 1..BATCH_MAX {
            match events.try_recv() {
                Ok(e) => take(e, &mut book),
                Err(_) => break,
            }
        }
        let lease_now = *lease.borrow();
        let mut own = Vec::with_capacity(batch.len());
        if lease_now == Some(true) {
            // The lease came before its change was seen: what was held back goes first.
            own.append(&mut held);
        }
        for (said, m) in batch {
            match (said, lease_now) {
                (false, _) | (true, Some(true)) => own.push(m),
                (true, None) => held.push(m),
                (true, Some(false)) => {}
            }
        }
        let over = held.len().saturating_sub(HELD_MAX);
        held.drain(..over);
        apply(&app, own).await;
    }
}

/// Asks this replica's Z-Wave locks for their state, in the background.
fn ask_after_takeover(app: &App) {
    let app = app.clone();
    tokio::spawn(async move {
        let ours = |name: &str| {
            latchkey_core::lock::DeviceAddress::parse(name)
                .ok()
                .and_then(|a| translate::node_of(&a))
                .is_some()
        };
        let why = latchkey_app::devices::AskWhy::Takeover;
        if let Err(e) = app.ask_locks_where(why, crate::ASK_SPACING, ours).await {
            tracing::error!(error = %e, "asking the Z-Wave locks after a takeover failed");
        }
    });
}

/// Applies `batch`, retrying a few times.
async fn apply(app: &App, batch: Vec<DeviceMessage>) {
    if batch.is_empty() {
        return;
    }
    let mut delay = Duration::from_millis(200);
    for attempt in 1..=5 {
        let items = batch
            .iter()
            .map(|m| IngestItem {
                identity: None,
                message: m.clone(),
            })
            .collect();
        match app.ingest(items).await {
            Ok(_) => return,
            Err(e) if attempt < 5 => {
                tracing::warn!(error = %e, attempt, "applying Z-Wave reports failed; retrying");
                tokio::time::sleep(delay).await;
                delay *= 2;
            }
            Err(e) => {
                tracing::error!(error = %e, messages = batch.len(), "Z-Wave reports dropped");
            }
        }
    }
}
