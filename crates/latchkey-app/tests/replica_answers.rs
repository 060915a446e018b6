//! Replicas sharing the locks' reports (a shared subscription): a command sent through one
//! replica may be answered by a report another replica ingests. The sender hears that answer
//! through the log once it follows it (`App::hear_answers_from_other_replicas`); without that,
//! its caller waits until the command's deadline. Every test runs on every backend.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::World;
use latchkey_app::devices::{IngestItem, RemoteAction};
use latchkey_app::secrets::Keys;
use latchkey_app::{App, AppConfig, DevicePort, NoDevices};
use latchkey_core::DoorId;
use latchkey_core::lock::LockCommand;
use latchkey_z2m::limits::Limits;
use latchkey_z2m::{Topics, parse_inbound};

const LOCK: &str = "lock-4071";

/// Far beyond the log follower's wake-up (NOTIFY, or a 50 ms poll) even on a busy machine.
const PATIENCE: Duration = Duration::from_secs(30);

/// A lock bridge that accepts every command and remembers it; the lock's answer is ingested
/// by the other replica, by the test.
#[derive(Default)]
struct Locks {
    sent: Mutex<Vec<(String, LockCommand)>>,
}

impl DevicePort for Locks {
    fn desired_state_changed(&self, _door: DoorId) {}

    fn drives_devices(&self) -> bool {
        true
    }

    fn send(&self, name: &str, command: &LockCommand) -> Result<(), String> {
        self.sent
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((name.to_owned(), command.clone()));
        Ok(())
    }

    fn connected(&self) -> bool {
        true
    }
}

impl Locks {
    async fn until_sent(&self, want: &LockCommand) {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            if self
                .sent
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .iter()
                .any(|(n, c)| n == LOCK && c == want)
            {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the command was never sent"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

/// Another replica on the world's database: same keys and clock, no link of its own.
fn replica(w: &World) -> App {
    App::new(
        w.store.clone(),
        Keys::from_master(&[1; 32]),
        w.clock.clone(),
        Arc::new(NoDevices),
        AppConfig::default(),
    )
}

/// The world with its door's lock paired, and replica A (the world's app) sending through
/// `Locks`.
async fn paired(db: &latchkey_testkit::TestDb) -> (World, Arc<Locks>) {
    let locks = Arc::new(Locks::default());
    let w = World::build_with(db, locks.clone()).await;
    w.app
        .pair_lock(
            w.app
                .may_pair_lock(&w.admin, w.door.id)
                .await
                .expect("the caller may do this"),
            Some(LOCK),
        )
        .await
        .expect("paired");
    (w, locks)
}

/// Replica `b` ingests the lock's report that it is unlocked.
async fn report_unlocked(b: &App) {
    let message = parse_inbound(
        &Topics::default(),
        &format!("zigbee2mqtt/{LOCK}"),
        br#"{"state":"UNLOCK","lock_state":"unlocked"}"#,
        &Limits::default(),
    )
    .expect("a valid report")
    .expect("a device message");
    let stats = b
        .ingest(vec![IngestItem {
            identity: None,
            message: latchkey_bridge::zigbee::message(message),
        }])
        .await
        .expect("ingested");
    assert_eq!(stats.applied, 1, "replica B knows the lock");
}

/// Sends an unlock through replica A (`w.app`) while replica B ingests the lock's answer;
/// returns the status A's caller saw.
async fn unlock_answered_by(w: &World, locks: &Locks, b: &App, wait: Duration) -> String {
    let command = w
        .app
        .may_remote_command(
            &w.admin,
            w.door.id,
            RemoteAction::Unlock,
            Some("a resident is locked out"),
        )
        .await
        .expect("the caller may do this");
    let (outcome, ()) = tokio::join!(w.app.remote_command(command, wait), async {
        locks.until_sent(&LockCommand::Unlock).await;
        report_unlocked(b).await;
    });
    outcome.expect("the command was recorded and sent").status
}

#[tokio::test]
async fn a_command_answered_through_another_replica_is_confirmed_to_its_caller() {
    latchkey_testkit::each_backend("replica_answer", |db| async move {
        let (w, locks) = paired(&db).await;
        let b = replica(&w);
        w.app
            .hear_answers_from_other_replicas()
            .await
            .expect("the log can be followed");
        // The command itself would wait ten minutes: only the answer heard through the log
        // ends it within the bound (without the follower, this test fails by timing out).
        let status = tokio::time::timeout(
            PATIENCE,
            unlock_answered_by(&w, &locks, &b, Duration::from_secs(600)),
        )
        .await
        .expect("A's caller heard B's answer");
        assert_eq!(status, "confirmed");
    })
    .await;
}
