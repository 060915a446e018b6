//! `latchkey sim …`: a fleet of virtual Zigbee2MQTT locks and sensors (latchkey-sim), virtual
//! Z-Wave locks behind a virtual Z-Wave JS UI gateway, and one-shot control messages to a
//! running fleet (its keypads, doors, batteries).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use latchkey_mqtt::MqttUrl;
use latchkey_sim::FleetConfig;
use rumqttc::{AsyncClient, Event, MqttOptions, NetworkOptions, Packet, QoS};

use crate::cli::{SimBroker, SimBrokerUrl};

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

/// Waits until `connected` (given 5 s a try) says the devices are on the broker, saying on
/// stderr that it is still trying; false when Ctrl-C or SIGTERM comes first.
async fn until_connected<F, Fut>(
    url: &MqttUrl,
    mut shutdown: std::pin::Pin<&mut impl std::future::Future<Output = ()>>,
    mut connected: F,
) -> bool
where
    F: FnMut(Duration) -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    loop {
        tokio::select! {
            ok = connected(Duration::from_secs(5)) => {
                if ok {
                    return true;
                }
                eprintln!("sim: still connecting to {url}…");
            }
            () = &mut shutdown => return false,
        }
    }
}

/// What `sim zwave` was given besides the broker.
pub struct ZwaveArgs {
    pub prefix: String,
    pub gateway_name: String,
    pub locks: u16,
    pub slots: u16,
    pub masked: bool,
}

/// Runs virtual Z-Wave locks (nodes 2, 3, …) behind a virtual gateway until Ctrl-C or
/// SIGTERM. Prints one line once the gateway is on the broker.
///
/// # Errors
/// A bad URL.
pub async fn zwave(broker: &SimBrokerUrl, args: ZwaveArgs) -> Result<()> {
    use latchkey_sim::zwave::{GatewaySettings, ZwaveLockConfig, ZwaveSimConfig};
    let url = plain_url(&broker.mqtt_url)?;
    let locks = (0..args.locks)
        .map(|i| {
            let mut l = ZwaveLockConfig::new(i + 2, format!("door_{}", i + 2));
            l.capacity = args.slots;
            l.quirks.masked_codes = args.masked;
            l
        })
        .collect();
    let config = ZwaveSimConfig {
        mqtt_host: url.host().to_owned(),
        login: url
            .username()
            .map(|u| (u.to_owned(), url.password().unwrap_or("").to_owned())),
        settings: GatewaySettings {
            prefix: args.prefix.clone(),
            name: args.gateway_name.clone(),
            ..GatewaySettings::default()
        },
        ..ZwaveSimConfig::new(url.port(), locks)
    };
    let shutdown = crate::serve::shutdown_signal();
    tokio::pin!(shutdown);
    let (gateway, task) = latchkey_sim::zwave::run(config);
    if !until_connected(&url, shutdown.as_mut(), |t| gateway.connected(t)).await {
        gateway.stop();
        return Ok(());
    }
    println!(
        "sim: {} Z-Wave lock nodes (2–{}) behind gateway {} on {url} (prefix {})",
        args.locks,
        args.locks + 1,
        args.gateway_name,
        args.prefix
    );
    tokio::select! {
        () = &mut shutdown => gateway.stop(),
        r = task => r.context("the virtual gateway task panicked")?,
    }
    Ok(())
}

/// Runs the fleet until Ctrl-C or SIGTERM. Prints one line once connected.
///
/// # Errors
/// A bad URL or configuration (repeated names, QoS above 2), or an unreadable state file.
pub async fn run(broker: &SimBroker, args: FleetArgs) -> Result<()> {
    let url = plain_url(&broker.url.mqtt_url)?;
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
    if !until_connected(&url, shutdown.as_mut(), |t| fleet.wait_connected(t)).await {
        fleet.shutdown().await;
        return Ok(());
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

/// `sim churn`: `rounds` passes over the locks `prefix0…`, one control message every
/// 1/`per_second` s on one connection; odd rounds send `offline`, even ones `online`. Each
/// change is printed as a JSON line once handed to the connection.
///
/// # Errors
/// A bad URL, or the broker unreachable or not acknowledging the last message within 10 s.
pub async fn churn(
    broker: &SimBroker,
    prefix: &str,
    locks: usize,
    per_second: u32,
    rounds: usize,
) -> Result<()> {
    let url = plain_url(&broker.url.mqtt_url)?;
    let mut opts = MqttOptions::new(
        format!("latchkey-sim-churn-{}", std::process::id()),
        url.host(),
        url.port(),
    );
    opts.set_keep_alive(Duration::from_secs(10))
        .set_clean_session(true);
    if let Some(user) = url.username() {
        opts.set_credentials(user, url.password().unwrap_or_default());
    }
    let (client, mut eventloop) = AsyncClient::new(opts, 1024);
    let mut net = NetworkOptions::new();
    net.set_tcp_nodelay(true);
    net.set_connection_timeout(5);
    eventloop.set_network_options(net);
    // The connection runs on its own task; it reports the acknowledgements it receives.
    let (acks, mut acked) = tokio::sync::mpsc::unbounded_channel::<()>();
    let (up, connected) = tokio::sync::oneshot::channel::<()>();
    let connection = tokio::spawn(async move {
        let mut up = Some(up);
        loop {
            match eventloop.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    if let Some(up) = up.take() {
                        let _ = up.send(());
                    }
                }
                Ok(Event::Incoming(Packet::PubAck(_))) => {
                    if acks.send(()).is_err() {
                        return Ok(());
                    }
                }
                Ok(_) => {}
                Err(e) => return Err(e),
            }
        }
    });
    tokio::time::timeout(Duration::from_secs(10), connected)
        .await
        .map_err(|_| anyhow::anyhow!("the broker at {url} did not answer within 10 s"))?
        .map_err(|_| anyhow::anyhow!("cannot reach the broker at {url}"))?;
    let mut tick = tokio::time::interval(Duration::from_secs(1) / per_second);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut sent = 0usize;
    for round in 0..rounds {
        let op = if round % 2 == 0 { "offline" } else { "online" };
        for i in 0..locks {
            tick.tick().await;
            let name = format!("{prefix}{i}");
            let topic = latchkey_sim::control_topic(&broker.base_topic, &name, op);
            client
                .publish(topic.as_str(), QoS::AtLeastOnce, false, Vec::new())
                .await
                .context("queueing a control message")?;
            sent += 1;
            let at = jiff::Timestamp::now().as_millisecond();
            println!(
                "{}",
                serde_json::json!({ "lock": name, "op": op, "sent_ms": at })
            );
        }
    }
    // Every message acknowledged by the broker before leaving.
    let all = tokio::time::timeout(Duration::from_secs(10), async {
        for _ in 0..sent {
            if acked.recv().await.is_none() {
                return false;
            }
        }
        true
    })
    .await;
    let _ = client.disconnect().await;
    let _ = tokio::time::timeout(Duration::from_secs(1), connection).await;
    match all {
        Ok(true) => Ok(()),
        _ => bail!("the broker at {url} did not acknowledge every change within 10 s"),
    }
}

/// Publishes one control message (`latchkey-sim/<base>/<name>/<op>`) and waits until the
/// broker has it.
///
/// # Errors
/// A bad URL, or the broker unreachable or not acknowledging within 10 s.
pub async fn control(broker: &SimBroker, name: &str, op: &str, payload: &str) -> Result<()> {
    let url = plain_url(&broker.url.mqtt_url)?;
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
