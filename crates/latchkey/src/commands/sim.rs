//! `latchkey sim …`: a fleet of virtual Zigbee2MQTT locks and sensors (latchkey-sim), and
//! one-shot control messages to a running fleet (its keypads, doors, batteries).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use latchkey_mqtt::MqttUrl;
use latchkey_sim::FleetConfig;
use rumqttc::{AsyncClient, Event, MqttOptions, NetworkOptions, Packet, QoS};

use crate::cli::SimBroker;

/// What `sim run` was given besides the broker.
pub struct FleetArgs {
    pub locks: usize,
    pub prefix: String,
    pub names: Option<Vec<String>>,
    pub sensors: Vec<String>,
    pub actuation: Duration,
    pub qos: u8,
    pub state_file: Option<PathBuf>,
    pub legacy_availability: bool,
}

/// The virtual devices speak plain MQTT 3.1.1, which every broker (and latchkey's embedded
/// one's device port) accepts.
fn plain_url(text: &str) -> Result<MqttUrl> {
    let url = MqttUrl::parse(text)?;
    if url.is_tls() {
        bail!("the simulator speaks plain MQTT only; give an mqtt:// URL, not mqtts://");
    }
    Ok(url)
}

/// Runs the fleet until Ctrl-C or SIGTERM. Prints one line once connected.
///
/// # Errors
/// A bad URL or configuration (repeated names, QoS above 2), or an unreadable state file.
pub async fn run(broker: &SimBroker, args: FleetArgs) -> Result<()> {
    let url = plain_url(&broker.mqtt_url)?;
    let config = FleetConfig {
        mqtt_host: url.host().to_owned(),
        mqtt_port: url.port(),
        username: url.username().map(str::to_owned),
        password: url.password().map(str::to_owned),
        client_id: format!("latchkey-sim-{}", std::process::id()),
        base_topic: broker.base_topic.clone(),
        locks: args.locks,
        lock_prefix: args.prefix,
        names: args.names,
        sensors: args.sensors,
        actuation: args.actuation,
        qos: args.qos,
        legacy_availability: args.legacy_availability,
        state_file: args.state_file,
        ..FleetConfig::default()
    };
    let locks = config.lock_names().len();
    let sensors = config.sensors.len();
    let shutdown = crate::serve::shutdown_signal();
    tokio::pin!(shutdown);
    let (fleet, task) = latchkey_sim::run(config).await?;
    loop {
        tokio::select! {
            connected = fleet.wait_connected(Duration::from_secs(5)) => {
                if connected {
                    break;
                }
                eprintln!("sim: still connecting to {url}…");
            }
            () = &mut shutdown => {
                fleet.shutdown().await;
                return Ok(());
            }
        }
    }
    println!(
        "sim: {locks} locks on {url} (base topic {})",
        broker.base_topic
    );
    if sensors > 0 {
        tracing::info!(sensors, "contact sensors running too");
    }
    tokio::select! {
        () = &mut shutdown => fleet.shutdown().await,
        r = task => r.context("the fleet task panicked")??,
    }
    Ok(())
}

/// Publishes one control message (`latchkey-sim/<base>/<name>/<op>`) and waits until the
/// broker has it.
///
/// # Errors
/// A bad URL, or the broker unreachable or not acknowledging within 10 s.
pub async fn control(broker: &SimBroker, name: &str, op: &str, payload: &str) -> Result<()> {
    let url = plain_url(&broker.mqtt_url)?;
    let topic = latchkey_sim::control_topic(&broker.base_topic, name, op);
    let mut opts = MqttOptions::new(
        format!("latchkey-sim-ctl-{}", std::process::id()),
        url.host(),
        url.port(),
    );
    opts.set_keep_alive(Duration::from_secs(10))
        .set_clean_session(true);
    if let Some(user) = url.username() {
        opts.set_credentials(user, url.password().unwrap_or_default());
    }
    let (client, mut eventloop) = AsyncClient::new(opts, 8);
    let mut net = NetworkOptions::new();
    net.set_tcp_nodelay(true);
    net.set_connection_timeout(5);
    eventloop.set_network_options(net);
    // QoS 1 so that the broker's PUBACK tells us the message arrived.
    client
        .publish(
            topic.as_str(),
            QoS::AtLeastOnce,
            false,
            payload.as_bytes().to_vec(),
        )
        .await
        .context("queueing the control message")?;
    let acked = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match eventloop.poll().await {
                Ok(Event::Incoming(Packet::PubAck(_))) => return Ok(()),
                Ok(_) => {}
                Err(e) => return Err(e),
            }
        }
    })
    .await;
    match acked {
        Ok(Ok(())) => {}
        Ok(Err(e)) => bail!("cannot reach the broker at {url}: {e}"),
        Err(_) => bail!("the broker at {url} did not acknowledge within 10 s"),
    }
    let _ = client.disconnect().await;
    // Let the DISCONNECT go out; the next poll ends the connection.
    let _ = tokio::time::timeout(Duration::from_secs(1), eventloop.poll()).await;
    println!("sent {op} to {name} ({topic})");
    Ok(())
}
