//! `latchkey bench revoke`: one PIN on every one of N virtual locks is revoked; the time until
//! every lock has confirmed its removal (the slot read back empty or a deletion event). With
//! `--protocol zwave` the locks are Z-Wave nodes behind one virtual Z-Wave JS UI gateway, each
//! removal believed only from the slot's read-back.

use std::time::{Duration, Instant};

use anyhow::{Result, anyhow};
use latchkey_app::credentials::CredentialInput;
use latchkey_app::people::{MembershipInput, PersonInput};
use latchkey_core::model::{CredentialKind, CredentialStatus, Role};
use latchkey_core::schedule::Schedule;
use latchkey_store::devices::{self, SlotStatus};
use serde_json::json;

use super::rig;
use crate::wiring::app_err;

async fn wait_all(
    rig: &rig::Rig,
    id: latchkey_core::CredentialId,
    want: SlotStatus,
    n: usize,
    within: Duration,
) -> Result<Duration> {
    let t = Instant::now();
    let mut told = Instant::now();
    loop {
        let done = {
            let mut conn = rig.store.read().await.map_err(|e| anyhow!("{e}"))?;
            // Counted by the database: reading ten thousand rows on every poll would take a
            // good share of the two cores away from the server being measured.
            let n = devices::count_slots_of_credential(&mut conn, id, want)
                .await
                .map_err(|e| anyhow!("{e}"))?;
            usize::try_from(n).unwrap_or(0)
        };
        if done >= n {
            return Ok(t.elapsed());
        }
        if told.elapsed() >= Duration::from_secs(5) {
            told = Instant::now();
            println!(
                "  … {done} of {n} locks `{}` after {:.0} s",
                want.as_str(),
                t.elapsed().as_secs_f64()
            );
        }
        if t.elapsed() > within {
            return Err(anyhow!(
                "only {done} of {n} locks reached `{}` within {within:?}",
                want.as_str()
            ));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// # Errors
/// The bench's server cannot be built, or the locks do not converge in time.
pub async fn run(locks: usize, external: Option<&str>, protocol: rig::LockProtocol) -> Result<()> {
    println!(
        "building {locks} doors with virtual {} locks ({} broker)…",
        match protocol {
            rig::LockProtocol::Zigbee => "Zigbee",
            rig::LockProtocol::Zwave => "Z-Wave",
        },
        if external.is_some() {
            "external"
        } else {
            "embedded"
        }
    );
    let rig = rig::build_with(rig::RigOptions {
        tag: "revoke",
        locks,
        external,
        remote_per_minute: 30,
        fleet_in_process: true,
        postgres: None,
        replicas: 1,
        protocol,
    })
    .await?;
    let (holder, _) = {
        let input = PersonInput {
            name: "Master key holder".into(),
            email: None,
            phone: None,
            password: None,
            membership: MembershipInput {
                role: Role::Manager,
                unit_id: None,
                valid_from: None,
                valid_until: None,
            },
        };
        rig.app.create_person(
            rig.app
                .may_create_person(&rig.admin, rig.property, &input)?,
            input,
        )
    }
    .await
    .map_err(app_err)?;
    // The holder asks for the code herself: a property-wide code is generated, and shown only
    // to its holder.
    let holder_p = rig
        .app
        .terminal_principal(holder.id)
        .await
        .map_err(app_err)?;
    let created = {
        let input = CredentialInput {
            person_id: holder.id,
            kind: CredentialKind::Pin,
            label: Some("building master PIN".into()),
            unit_id: None,
            doors: Some(rig.doors.clone()),
            schedule: Schedule::Always,
            max_uses: None,
            duress: false,
            pin: None,
            card_uid: None,
        };
        rig.app.create_credential(
            holder_p.credential_issuer(rig.property, input.unit_id)?,
            input,
        )
    }
    .await
    .map_err(app_err)?;
    let code = created
        .pin
        .ok_or_else(|| anyhow!("the holder was not handed her generated PIN"))?;
    let cred = created.credential;
    let programmed = wait_all(
        &rig,
        cred.id,
        SlotStatus::Set,
        locks,
        Duration::from_secs(300),
    )
    .await?;
    println!(
        "programmed on {locks} locks in {:.2} s",
        programmed.as_secs_f64()
    );
    let t = Instant::now();
    rig.app
        .set_credential_status(
            rig.app
                .may_set_credential_status(&rig.admin, cred.id, CredentialStatus::Revoked)
                .await?,
        )
        .await
        .map_err(app_err)?;
    wait_all(
        &rig,
        cred.id,
        SlotStatus::Removed,
        locks,
        Duration::from_secs(300),
    )
    .await?;
    let seconds = t.elapsed().as_secs_f64();
    println!(
        "revoked and confirmed removed on all {locks} locks in {seconds:.2} s (target ≤ 2 s for 10,000)"
    );
    if let Some(fleet) = &rig.fleet {
        let still = (0..locks)
            .filter(|i| {
                matches!(
                    fleet.keypad(&format!("lock-{i}"), &code),
                    Ok(latchkey_sim::KeypadOutcome::Opened { .. })
                )
            })
            .count();
        println!("locks still opening for the revoked PIN: {still}");
    }
    if let Some(gateway) = &rig.zwave {
        let still = (0..locks)
            .filter(|i| {
                let node =
                    latchkey_core::lock::DeviceAddress::parse(&rig::lock_address(protocol, *i))
                        .ok()
                        .and_then(|a| latchkey_bridge::zwave::translate::node_of(&a));
                node.is_some_and(|n| gateway.opens(n, &code).is_some())
            })
            .count();
        println!("locks still opening for the revoked PIN: {still}");
    }
    println!(
        "{}",
        json!({ "bench": "revoke", "protocol": format!("{protocol:?}").to_lowercase(),
                "locks": locks, "seconds": (seconds * 1000.0).round() / 1000.0,
                "program_seconds": (programmed.as_secs_f64() * 1000.0).round() / 1000.0 })
    );
    rig.session.close().await;
    Ok(())
}
