//! `--state-file`: slot tables survive the fleet's own restart. Needs no broker: the fleet works
//! (and keeps retrying) without one.

use std::time::Duration;

use latchkey_sim::{FleetConfig, KeypadOutcome, SlotStatus, run};
use serde_json::json;

#[tokio::test]
async fn slots_written_before_a_restart_open_the_lock_after_it() {
    let dir = std::env::temp_dir().join(format!("latchkey-sim-state-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("fleet.json");
    let _ = std::fs::remove_file(&path);
    let cfg = FleetConfig {
        // Nothing listens on port 9: the fleet runs offline.
        mqtt_port: 9,
        locks: 2,
        actuation: Duration::ZERO,
        state_file: Some(path.clone()),
        ..FleetConfig::default()
    };

    let (fleet, task) = run(cfg.clone()).await.expect("fleet starts");
    fleet
        .with_lock("lock-1", |l, now| {
            (
                (),
                l.handle_set(&json!({"pin_code":{"user":4,"pin_code":"0427"}}), now),
            )
        })
        .expect("lock exists");
    fleet.set_duress("lock-1", 4, true).expect("lock exists");
    fleet.shutdown().await;
    task.await.expect("joins").expect("saved");
    assert!(path.exists());

    let (fleet, task) = run(cfg).await.expect("fleet restarts");
    let slots = fleet.slots("lock-1").expect("lock exists");
    assert_eq!(slots[4].status, SlotStatus::Enabled);
    assert_eq!(slots[4].pin.expose_secret(), "0427");
    assert_eq!(
        fleet.keypad("lock-1", "0427").expect("lock exists"),
        KeypadOutcome::Opened { slot: 4 }
    );
    assert!(
        fleet
            .slots("lock-0")
            .expect("lock exists")
            .iter()
            .all(|s| s.status == SlotStatus::Available)
    );
    fleet.shutdown().await;
    task.await.expect("joins").expect("saved");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_corrupt_state_file_is_an_error_not_an_empty_fleet() {
    let dir = std::env::temp_dir().join(format!("latchkey-sim-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("fleet.json");
    std::fs::write(&path, "not json").expect("write");
    let cfg = FleetConfig {
        mqtt_port: 9,
        state_file: Some(path),
        ..FleetConfig::default()
    };
    assert!(matches!(
        run(cfg).await,
        Err(latchkey_sim::SimError::StateFormat { .. })
    ));
    let _ = std::fs::remove_dir_all(&dir);
}
