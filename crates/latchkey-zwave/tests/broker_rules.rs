//! The Z-Wave broker rules that docs/DEVICES.md gives, tried against a real Mosquitto with the
//! virtual gateway logged in as `zwave-js-ui`: the file is read from the document itself, so the
//! two cannot drift.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::{NODE, Server, set_code};
use latchkey_sim::zwave::{ZwaveLockConfig, ZwaveSimConfig, run};
use latchkey_testkit::mosquitto::Mosquitto;
use latchkey_zwave::{Confirmation, Request};
use rumqttc::{AsyncClient, Event, Incoming, MqttOptions, QoS};
use tokio::sync::mpsc;

const PASSWD: &str = "/usr/bin/mosquitto_passwd";
const USERS: [&str; 4] = ["latchkey", "zwave-js-ui", "dashboard", "someone"];

/// The fenced block that starts with `# /etc/mosquitto/latchkey.acl (Z-Wave part)`.
fn acl_from_docs() -> String {
    let doc = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/DEVICES.md"),
    )
    .expect("docs/DEVICES.md");
    let start = doc
        .find("```\n# /etc/mosquitto/latchkey.acl (Z-Wave part)\n")
        .expect("DEVICES.md has the Z-Wave ACL block")
        + 4;
    let len = doc[start..].find("```").expect("the block ends");
    doc[start..start + len].to_owned()
}

fn broker() -> Option<Mosquitto> {
    if !Path::new(PASSWD).exists() {
        eprintln!("SKIPPED: {PASSWD} is not installed");
        return None;
    }
    Mosquitto::start_with(|dir| {
        let passwd = dir.join("passwd");
        for (i, user) in USERS.iter().enumerate() {
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
        let acl = dir.join("zwave.acl");
        std::fs::write(&acl, acl_from_docs()).expect("write the ACL");
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

/// A plain client that records every topic it receives.
async fn observer(port: u16, user: &str) -> (AsyncClient, mpsc::UnboundedReceiver<String>) {
    let mut opts = MqttOptions::new(format!("observer-{user}"), "127.0.0.1", port);
    opts.set_credentials(user, format!("{user}-pw"));
    let (client, mut eventloop) = AsyncClient::new(opts, 256);
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            match eventloop.poll().await {
                Ok(Event::Incoming(Incoming::Publish(p))) => {
                    let _ = tx.send(p.topic.clone());
                }
                Ok(_) => {}
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    });
    client
        .subscribe("zwave/#", QoS::AtLeastOnce)
        .await
        .expect("subscribe");
    (client, rx)
}

fn drain(rx: &mut mpsc::UnboundedReceiver<String>) -> Vec<String> {
    let mut all = Vec::new();
    while let Ok(t) = rx.try_recv() {
        all.push(t);
    }
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_documented_rules_let_latchkey_and_the_gateway_work_and_keep_codes_from_everyone_else()
{
    let Some(broker) = broker() else {
        return;
    };
    let (dashboard, mut dash_rx) = observer(broker.port, "dashboard").await;
    let (someone, mut someone_rx) = observer(broker.port, "someone").await;
    let mut server = Server::connect(broker.port, Some(("latchkey", "latchkey-pw"))).await;
    let mut cfg = ZwaveSimConfig::new(broker.port, vec![ZwaveLockConfig::new(NODE, "front")]);
    cfg.login = Some(("zwave-js-ui".into(), "zwave-js-ui-pw".into()));
    cfg.settings.retain = false;
    let (gw, _task) = run(cfg);
    assert!(gw.connected(common::WAIT).await);

    // latchkey's calls reach the gateway and its answers come back.
    server.discover().await;
    server.write(set_code(3, "0427")).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(
        server.read_slot(3).await.confirms("0427"),
        Confirmation::Confirmed
    );

    // Others calling the API reach nothing.
    let unlock = serde_json::json!({"args":[{"nodeId":12,"commandClass":98,"endpoint":0,"property":"targetMode"},0]});
    let topic = "zwave/_CLIENTS/ZWAVE_GATEWAY-zwave-js-ui/api/writeValue/set";
    for client in [&dashboard, &someone] {
        client
            .publish(topic, QoS::AtLeastOnce, false, unlock.to_string())
            .await
            .expect("queued");
    }
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(gw.mode(NODE), Some(255), "nobody but latchkey unlocks");
    // A control check that the same call from latchkey does unlock, so the wait was enough.
    server.send(Request::Unlock { node: NODE }).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(gw.mode(NODE), Some(0));

    let seen = drain(&mut dash_rx);
    assert!(
        seen.iter().any(|t| t == "zwave/12/98/0/currentMode"),
        "the dashboard sees the bolt: {seen:?}"
    );
    assert!(
        seen.iter()
            .all(|t| !t.contains("/99/") && !t.contains("/api/")),
        "the dashboard never sees a code or an API answer: {seen:?}"
    );
    assert!(drain(&mut someone_rx).is_empty(), "no rules, nothing seen");
}
