//! The Mosquitto ACL that docs/DEVICES.md gives for an external broker, tried against a real
//! Mosquitto: the file is read from the document itself, so the two cannot drift.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use bytes::Bytes;
use common::Mosquitto;
use rumqttc::{AsyncClient, ConnectReturnCode, ConnectionError, Event, MqttOptions, Packet};
use tokio::sync::mpsc;

const PASSWD: &str = "/usr/bin/mosquitto_passwd";
const QUIET: Duration = Duration::from_millis(500);

/// The fenced block of docs/DEVICES.md that starts with `# /etc/mosquitto/latchkey.acl`.
fn acl_from_docs() -> String {
    let doc = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/DEVICES.md"),
    )
    .expect("docs/DEVICES.md");
    let start = doc
        .find("```\n# /etc/mosquitto/latchkey.acl\n")
        .expect("DEVICES.md has the ACL block")
        + 4;
    let len = doc[start..].find("```").expect("the block ends");
    doc[start..start + len].to_owned()
}

fn broker() -> Option<Mosquitto> {
    if !Path::new(PASSWD).exists() {
        latchkey_testkit::require_in_ci(&format!("mosquitto_passwd ({PASSWD})"));
        eprintln!("SKIPPED: {PASSWD} is not installed");
        return None;
    }
    Mosquitto::start_with(|dir| {
        let passwd = dir.join("passwd");
        for (i, user) in ["latchkey", "zigbee2mqtt", "dashboard", "someone"]
            .iter()
            .enumerate()
        {
            let mut cmd = Command::new(PASSWD);
            if i == 0 {
                cmd.arg("-c");
            }
            let ok = cmd
                .arg("-b")
                .arg(&passwd)
                .arg(user)
                .arg(format!("{user}-pw"))
                .status()
                .expect("run mosquitto_passwd")
                .success();
            assert!(ok, "mosquitto_passwd for {user}");
        }
        let acl = dir.join("latchkey.acl");
        std::fs::write(&acl, acl_from_docs()).expect("write the ACL");
        // Mosquitto drops to its own user when started as root.
        let _ = Command::new("chmod")
            .arg("644")
            .arg(&passwd)
            .arg(&acl)
            .status();
        format!(
            "allow_anonymous false\npassword_file {}\nacl_file {}\n",
            passwd.display(),
            acl.display()
        )
    })
}

/// A connected client (MQTT 3.1.1) whose received publishes go to the channel, or the refusal.
async fn client(
    broker: &Mosquitto,
    id: &str,
    user: Option<&str>,
    subscribe: &[&str],
) -> Result<(AsyncClient, mpsc::Receiver<(String, Bytes)>), ConnectReturnCode> {
    let mut opts = MqttOptions::new(id, "127.0.0.1", broker.port);
    opts.set_keep_alive(Duration::from_secs(30));
    if let Some(u) = user {
        opts.set_credentials(u, format!("{u}-pw"));
    }
    let (client, mut eventloop) = AsyncClient::new(opts, 64);
    for f in subscribe {
        client
            .subscribe(*f, rumqttc::QoS::AtLeastOnce)
            .await
            .expect("queued");
    }
    let mut pending = subscribe.len();
    let connected = tokio::time::timeout(Duration::from_secs(10), async {
        let mut acked = false;
        loop {
            match eventloop.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(_))) => acked = true,
                Ok(Event::Incoming(Packet::SubAck(_))) => pending -= 1,
                Ok(_) => {}
                Err(ConnectionError::ConnectionRefused(code)) => return Err(code),
                Err(e) => panic!("connection error: {e}"),
            }
            if acked && pending == 0 {
                return Ok(());
            }
        }
    })
    .await
    .expect("connected in time");
    connected?;
    let (tx, rx) = mpsc::channel(64);
    tokio::spawn(async move {
        while let Ok(ev) = eventloop.poll().await {
            if let Event::Incoming(Packet::Publish(p)) = ev {
                let _ = tx.send((p.topic, p.payload)).await;
            }
        }
    });
    Ok((client, rx))
}

async fn next(rx: &mut mpsc::Receiver<(String, Bytes)>) -> String {
    tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .expect("a message in time")
        .expect("a message")
        .0
}

async fn publish(c: &AsyncClient, topic: &str, payload: &str) {
    c.publish(
        topic,
        rumqttc::QoS::AtLeastOnce,
        false,
        payload.as_bytes().to_vec(),
    )
    .await
    .expect("queued");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_documented_acl_keeps_commands_to_latchkey_and_pins_from_everyone_else() {
    let Some(b) = broker() else {
        return;
    };
    // Anonymous clients are refused.
    assert_eq!(
        client(&b, "intruder", None, &[]).await.err(),
        Some(ConnectReturnCode::NotAuthorized)
    );

    let (latchkey, mut latchkey_rx) = client(&b, "latchkey", Some("latchkey"), &["zigbee2mqtt/#"])
        .await
        .expect("latchkey connects");
    let (gateway, mut gateway_rx) =
        client(&b, "zigbee2mqtt", Some("zigbee2mqtt"), &["zigbee2mqtt/#"])
            .await
            .expect("the gateway connects");
    let (_dash, mut dash_rx) = client(&b, "dashboard", Some("dashboard"), &["zigbee2mqtt/#"])
        .await
        .expect("the dashboard connects");
    let (_other, mut other_rx) = client(&b, "someone", Some("someone"), &["zigbee2mqtt/#"])
        .await
        .expect("a user with no ACL lines connects");

    // The gateway's login cannot command a lock, nor the bridge: nobody receives those.
    publish(
        &gateway,
        "zigbee2mqtt/front-door/set",
        r#"{"state":"UNLOCK"}"#,
    )
    .await;
    publish(&gateway, "zigbee2mqtt/bridge/request/permit_join", "true").await;
    // It does report state, which latchkey and the dashboard receive.
    publish(&gateway, "zigbee2mqtt/front-door", r#"{"state":"LOCK"}"#).await;
    assert_eq!(next(&mut latchkey_rx).await, "zigbee2mqtt/front-door");
    assert_eq!(next(&mut gateway_rx).await, "zigbee2mqtt/front-door");
    assert_eq!(next(&mut dash_rx).await, "zigbee2mqtt/front-door");

    // latchkey writes a PIN: the gateway receives it, the dashboard and the other user do not.
    publish(
        &latchkey,
        "zigbee2mqtt/front-door/set",
        r#"{"pin_code":{"user":3,"pin_code":"482915"}}"#,
    )
    .await;
    assert_eq!(next(&mut gateway_rx).await, "zigbee2mqtt/front-door/set");
    assert_eq!(next(&mut latchkey_rx).await, "zigbee2mqtt/front-door/set");
    publish(&latchkey, "zigbee2mqtt/front-door/availability", "online").await;
    assert_eq!(
        next(&mut dash_rx).await,
        "zigbee2mqtt/front-door/availability"
    );
    assert!(
        tokio::time::timeout(QUIET, dash_rx.recv()).await.is_err(),
        "the dashboard saw a command"
    );
    assert!(
        tokio::time::timeout(QUIET, other_rx.recv()).await.is_err(),
        "a user without ACL lines saw something"
    );
}
