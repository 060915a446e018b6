//! The change feed: a change made by one process (a terminal command, a replica without the
//! reconciler lease) reaches the process that drives the locks without waiting for a sweep.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{World, pin_for};
use latchkey_app::secrets::Keys;
use latchkey_app::{App, AppConfig, DevicePort};
use latchkey_core::model::{CredentialKind, CredentialStatus};
use latchkey_core::{CredentialId, DoorId};
use latchkey_testkit::each_backend;

/// What a process's device port was told, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Told {
    Door(DoorId),
    Credential(CredentialId, Vec<DoorId>),
}

/// How many 25 ms naps a wait may take: 30 s, far beyond the feed's wake-up (NOTIFY, or a
/// 50 ms poll, with a one-second safety poll) even on a machine busy compiling. No sweep runs
/// in these tests, so anything that arrives came through the feed.
const PATIENCE: usize = 1_200;

#[derive(Default)]
struct Recorder(Mutex<Vec<Told>>);

impl DevicePort for Recorder {
    fn desired_state_changed(&self, door: DoorId) {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(Told::Door(door));
    }
    fn credential_changed(&self, credential: CredentialId, doors: &[DoorId]) {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(Told::Credential(credential, doors.to_vec()));
    }
}

impl Recorder {
    fn told(&self) -> Vec<Told> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Waits (up to a generous bound, so a slow machine does not fail the test) until `want`
    /// was told.
    async fn wait_for(&self, want: &Told) -> bool {
        for _ in 0..PATIENCE {
            if self.told().contains(want) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        false
    }
}

/// A second process on the world's database: same keys and clock, its own device port,
/// following the feed.
fn server(w: &World) -> (App, Arc<Recorder>, tokio::task::JoinHandle<()>) {
    let port = Arc::new(Recorder::default());
    let app = App::new(
        w.store.clone(),
        Keys::from_master(&[1; 32]),
        w.clock.clone(),
        port.clone(),
        AppConfig::default(),
    );
    let follower = app.clone();
    let task = tokio::spawn(async move {
        follower.follow_changes().await.expect("the feed opens");
    });
    (app, port, task)
}

/// Lets the follower read the feed's head before anything is changed.
async fn settle() {
    tokio::time::sleep(Duration::from_millis(300)).await;
}

#[tokio::test]
async fn a_credential_issued_by_another_process_reaches_the_server_without_a_sweep() {
    each_backend("feed_credential", |db| async move {
        let w = World::build(&db).await;
        let (_server, port, task) = server(&w);
        settle().await;
        // The world's app plays the terminal: it has no device port of its own.
        let mut input = pin_for(w.resident.id, Some(w.unit.id), None);
        input.kind = CredentialKind::PhoneKey;
        let created = w
            .app
            .create_credential(
                w.admin
                    .credential_issuer(w.property.id, input.unit_id)
                    .expect("the caller may do this"),
                input,
            )
            .await
            .expect("phone key issued");
        let id = created.credential.id;
        w.app.flush_changes().await;
        assert!(
            port.wait_for(&Told::Credential(id, vec![w.door.id])).await,
            "the server heard {:?}",
            port.told()
        );
        w.app
            .set_credential_status(
                w.app
                    .may_set_credential_status(&w.admin, id, CredentialStatus::Revoked)
                    .await
                    .expect("the caller may do this"),
            )
            .await
            .expect("revoked");
        w.app.flush_changes().await;
        // The server hears the same credential on the same door a second time.
        let heard = Told::Credential(id, vec![w.door.id]);
        let mut again = false;
        for _ in 0..PATIENCE {
            again = port.told().iter().filter(|t| **t == heard).count() >= 2;
            if again {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        assert!(
            again,
            "the revocation reached the server too: {:?}",
            port.told()
        );
        task.abort();
    })
    .await;
}

#[tokio::test]
async fn a_lock_paired_from_the_terminal_is_heard_by_the_running_server() {
    each_backend("feed_pairing", |db| async move {
        let w = World::build(&db).await;
        let (_server, port, task) = server(&w);
        settle().await;
        w.app
            .pair_lock(
                w.app
                    .may_pair_lock(&w.admin, w.door.id)
                    .await
                    .expect("the caller may do this"),
                Some("front-lock"),
            )
            .await
            .expect("paired");
        w.app.flush_changes().await;
        assert!(
            port.wait_for(&Told::Door(w.door.id)).await,
            "the server re-plans the paired door (and pushes its settings): {:?}",
            port.told()
        );
        task.abort();
    })
    .await;
}

#[tokio::test]
async fn a_process_does_not_hear_its_own_changes_twice() {
    each_backend("feed_own", |db| async move {
        let w = World::build(&db).await;
        let (server, port, task) = server(&w);
        settle().await;
        server
            .pair_lock(
                server
                    .may_pair_lock(&w.admin, w.door.id)
                    .await
                    .expect("the caller may do this"),
                Some("front-lock"),
            )
            .await
            .expect("paired");
        server.flush_changes().await;
        // Long enough for the follower to have read the row back several times.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let told = port.told();
        assert_eq!(
            told.iter().filter(|t| **t == Told::Door(w.door.id)).count(),
            1,
            "told once, directly: {told:?}"
        );
        task.abort();
    })
    .await;
}
