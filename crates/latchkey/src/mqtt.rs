//! The device side of `serve`: the MQTT broker (embedded or external), the server's session,
//! the bridge (ingestion and the command link), the reconciler, and for `--demo` the virtual
//! fleet in-process.
//!
//! QoS follows the broker (see `docs/DEVICES.md`): through the embedded rumqttd everything is
//! QoS 0, because rumqttd never disables Nagle on accepted sockets and every QoS 1 exchange
//! would stall ≈ 44 ms; a lock's real confirmation is its state report anyway. An external
//! broker gets QoS 1, a persistent session and acks sent only after the database commit.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::{Context, Result};
use latchkey_app::App;
use latchkey_app::devices::reconcile::{self, Input, ReconcileOptions};
use latchkey_bridge::{BridgePort, BridgeStats, IngestOptions, MqttLink};
use latchkey_mqtt::{
    BrokerOptions, EmbeddedBroker, MqttError, MqttUrl, QoS, Session, SessionHandle, SessionOptions,
};
use latchkey_sim::{FleetConfig, FleetHandle};
use latchkey_z2m::Topics;
use tokio::sync::mpsc;

use crate::broker;
use crate::config::Config;

/// The demo's virtual devices, to run in-process.
pub struct DemoDevices {
    pub locks: Vec<String>,
    pub sensors: Vec<String>,
}

/// The running device side, to print and to stop.
pub struct Devices {
    /// Kept for as long as the server runs (its threads serve the in-process session).
    _broker: Option<EmbeddedBroker>,
    session: SessionHandle,
    fleet: Option<FleetHandle>,
    stats: Arc<BridgeStats>,
    /// Home Assistant's session and topics, when enabled.
    hass: Option<(SessionHandle, latchkey_bridge::hass::HassTopics)>,
    /// The line printed after the listening line.
    pub banner: String,
}

/// How long the reconciler waits for the demo fleet to connect before sending its first
/// commands (QoS 0 commands to a fleet that is not there yet would only be retried later).
const FLEET_CONNECT_WAIT: Duration = Duration::from_secs(5);
/// How long the broker keeps an external session (and its unacknowledged messages) while
/// this replica is away.
const SESSION_EXPIRY_SECS: u32 = 3600;
/// The shared-subscription group of all replicas: each message goes to one of them.
const SHARED_GROUP: &str = "latchkey";

/// Where the server's session connects and how.
struct Plan {
    session: SessionOptions,
    /// The embedded broker, whose in-process session latchkey uses (no TCP, so no Nagle stall
    /// on rumqttd's side); `None` for an external broker.
    local: Option<EmbeddedBroker>,
    qos: QoS,
    banner: String,
    /// Where the demo fleet connects: host, port, user, password (None: it cannot).
    fleet_broker: Option<(String, u16, Option<String>, Option<String>)>,
    fleet_qos: u8,
}

/// Starts the broker (unless external), the session, the bridge and the reconciler, and the
/// demo's fleet when `demo` is given. Returns once the broker listens; connecting, ingesting
/// and programming PINs go on in the background.
///
/// # Errors
/// The embedded broker's port is taken (the message names `--mqtt-listen` and `--mqtt-url`;
/// with the demo another port is picked instead), the base topic is unusable, TLS cannot be set
/// up, or the demo fleet's state file is unreadable.
pub async fn start(
    app: &App,
    config: &Config,
    port: &BridgePort,
    reconcile_rx: mpsc::UnboundedReceiver<Input>,
    demo: Option<(DemoDevices, &Path)>,
) -> Result<Devices> {
    let topics = Topics::new(config.mqtt_base_topic.clone())
        .with_context(|| format!("the MQTT base topic `{}`", config.mqtt_base_topic))?;
    let client_id = format!("latchkey-{}", config.replica_id);
    let plan = match &config.mqtt_url {
        None => embedded(app, config, &topics, client_id, demo.is_some()).await?,
        Some(url) => external(url, &topics, client_id),
    };
    let (handle, inbound) = match &plan.local {
        Some(broker) => broker
            .take_local_session(
                plan.session.subscriptions.clone(),
                plan.session.inbound_capacity,
            )
            .context("starting latchkey's in-process MQTT session")?,
        None => Session::start(plan.session.clone()).context("starting the MQTT session")?,
    };
    if plan.session.shared_group.is_some() {
        // Another replica may ingest the lock's answer to a command this one sent.
        app.hear_answers_from_other_replicas()
            .await
            .context("following the audit log for commands answered by other replicas")?;
    }
    let stats = Arc::new(BridgeStats::default());
    port.connect(MqttLink::new(
        handle.clone(),
        topics.clone(),
        plan.qos,
        stats.clone(),
    ));
    if let Some(z) = &config.zwave {
        let url = match (&plan.local, &config.mqtt_url) {
            (Some(broker), _) => broker.internal_url(),
            (None, Some(url)) => url.clone(),
            (None, None) => anyhow::bail!("no broker for the Z-Wave gateway's session"),
        };
        start_zwave(app, port, url, z, &config.replica_id)?;
    }
    tokio::spawn(latchkey_bridge::run_ingest(
        app.clone(),
        inbound,
        handle.clone(),
        IngestOptions {
            topics: topics.clone(),
            ..Default::default()
        },
        stats.clone(),
    ));
    // On start and after every reconnect, each paired lock is asked for its state, so that what
    // changed while latchkey was away is known (docs/DEVICES.md, "After an outage, ask").
    tokio::spawn(latchkey_bridge::run_asker(
        app.clone(),
        handle.state(),
        latchkey_bridge::ASK_SPACING,
    ));

    let fleet = match (demo, plan.fleet_broker) {
        (Some((devices, data_dir)), Some((host, port, username, password))) => {
            let config = FleetConfig {
                mqtt_host: host,
                mqtt_port: port,
                username,
                password,
                client_id: format!("latchkey-demo-fleet-{}", config.replica_id),
                base_topic: topics.base().to_owned(),
                names: Some(devices.locks),
                sensors: devices.sensors,
                actuation: Duration::from_secs(2),
                qos: plan.fleet_qos,
                state_file: Some(data_dir.join("sim-state.json")),
                ..FleetConfig::default()
            };
            let (fleet, _task) = latchkey_sim::run(config)
                .await
                .context("starting the demo's virtual locks")?;
            Some(fleet)
        }
        (Some(_), None) => {
            tracing::warn!(
                "the demo's virtual locks speak plain MQTT only; they do not run against an \
                 mqtts:// broker"
            );
            None
        }
        (None, _) => None,
    };

    let hass = match &config.home_assistant {
        Some(h) => Some(start_hass(app, config, h, plan.local.as_ref())?),
        None => None,
    };

    let opts = ReconcileOptions {
        holder: config.replica_id.clone(),
        ..Default::default()
    };
    // Changes made by terminal commands and by the other replicas reach this reconciler
    // through the change feed (docs/ARCHITECTURE.md, "The change feed").
    let follower = app.clone();
    tokio::spawn(async move {
        if let Err(e) = follower.follow_changes().await {
            tracing::error!(
                error = %e,
                "cannot follow the change feed; changes made elsewhere wait for the sweep"
            );
        }
    });
    let (app, waiting_for) = (app.clone(), fleet.clone());
    tokio::spawn(async move {
        if let Some(f) = waiting_for
            && !f.wait_connected(FLEET_CONNECT_WAIT).await
        {
            tracing::warn!("the demo's virtual locks are not connected yet; reconciling anyway");
        }
        reconcile::run(app, reconcile_rx, opts).await;
    });
    Ok(Devices {
        _broker: plan.local,
        session: handle,
        fleet,
        stats,
        hass,
        banner: plan.banner,
    })
}

/// Largest message the embedded broker takes. Zigbee2MQTT's messages are small; Z-Wave JS UI
/// answers `getNodes` with every node and all its values in one message, several MiB for a
/// full network, and a broker that refused it would leave latchkey without its node list.
pub(crate) fn max_payload(zwave: bool) -> usize {
    if zwave { 16 << 20 } else { 1 << 20 }
}

/// Starts the Z-Wave JS UI gateway's session (docs/DEVICES.md, "Z-Wave JS UI") on an MQTT
/// session of its own on latchkey's broker, and links it to the device port: commands to
/// `zwave/<node>` go there, and what the locks say goes to ingestion.
pub(crate) fn start_zwave(
    app: &App,
    port: &BridgePort,
    url: MqttUrl,
    topics: &latchkey_zwave::Topics,
    replica_id: &str,
) -> Result<()> {
    let opts = latchkey_bridge::zwave::session_options(
        url,
        &format!("latchkey-zwave-{replica_id}"),
        topics,
    );
    let (handle, inbound) =
        Session::start(opts).context("starting the Z-Wave gateway's MQTT session")?;
    let (gateway, events, _task) = latchkey_bridge::zwave::start(
        handle.clone(),
        inbound,
        latchkey_bridge::zwave::ZwaveOptions {
            topics: topics.clone(),
            ..Default::default()
        },
    );
    let (link, jobs) = latchkey_bridge::zwave::link::ZwaveLink::new(gateway, handle.state());
    port.connect_zwave(link);
    tokio::spawn(latchkey_bridge::zwave::link::run_events(
        app.clone(),
        events,
        jobs,
    ));
    tracing::info!(
        prefix = topics.prefix(),
        gateway = topics.client_id(),
        "running Z-Wave locks through Z-Wave JS UI's MQTT gateway"
    );
    Ok(())
}

/// Starts Home Assistant's link (docs/OPERATIONS.md, "Home Assistant") on its own session: to
/// the broker Home Assistant listens to, else latchkey's own (the embedded broker's internal
/// listener, or the external broker). Its last will says `offline` on latchkey's status topic.
/// Replicas share the command topic (each command is carried out once) and each reads the
/// retained topics itself (a shared subscription gets no retained message).
fn start_hass(
    app: &App,
    config: &Config,
    hass: &crate::config_hass::HassConfig,
    embedded: Option<&EmbeddedBroker>,
) -> Result<(SessionHandle, latchkey_bridge::hass::HassTopics)> {
    use latchkey_bridge::hass::{self, HassOptions};
    let (url, qos) = match (&hass.mqtt_url, embedded, &config.mqtt_url) {
        (Some(url), _, _) => (url.clone(), QoS::AtLeastOnce),
        (None, Some(broker), _) => (broker.internal_url(), QoS::AtMostOnce),
        (None, None, Some(url)) => (url.clone(), QoS::AtLeastOnce),
        (None, None, None) => anyhow::bail!("Home Assistant has no broker to use"),
    };
    let topics = hass.topics.clone();
    let mut session = SessionOptions::new(url, format!("latchkey-hass-{}", config.replica_id));
    (session.subscriptions, session.unshared_subscriptions) = hass::subscriptions(&topics);
    session.shared_group = Some(format!("{SHARED_GROUP}-hass"));
    session.last_will = Some(latchkey_mqtt::Will {
        topic: topics.status(),
        payload: b"offline".to_vec(),
        qos: QoS::AtLeastOnce,
        retain: true,
    });
    let (handle, inbound) =
        Session::start(session).context("starting Home Assistant's MQTT session")?;
    tracing::info!(
        discovery = topics.discovery_prefix(),
        topics = topics.prefix(),
        "Home Assistant discovery is on"
    );
    tokio::spawn(hass::run(
        app.clone(),
        handle.clone(),
        inbound,
        HassOptions {
            topics: topics.clone(),
            token: hass.token.clone(),
            resync: Duration::from_secs(60),
            command_wait: Duration::from_secs(15),
            qos,
        },
    ));
    Ok((handle, topics))
}

async fn embedded(
    app: &App,
    config: &Config,
    topics: &Topics,
    client_id: String,
    demo: bool,
) -> Result<Plan> {
    let local_id = client_id.clone();
    // The demo's virtual locks log in like a gateway, with a login that lives only in this
    // process.
    let fleet_login = demo
        .then(broker::fleet_login)
        .transpose()
        .context("a login for the demo's virtual locks")?;
    let authenticator = broker::authenticator(
        app.clone(),
        topics.base().to_owned(),
        tokio::runtime::Handle::current(),
        fleet_login.clone(),
        config
            .home_assistant
            .as_ref()
            .map(|h| h.topics.clone())
            .unwrap_or_default(),
    );
    let tls = config.mqtt_tls.clone();
    let max_payload = max_payload(config.zwave.is_some());
    let start = |listen: SocketAddr| {
        let local_id = local_id.clone();
        let authenticator = authenticator.clone();
        let tls = tls.clone();
        // A rotation or revocation, here or in another process (the change feed), cuts the
        // clients of that login at once.
        let login_changes = Some(app.broker_logins_changed());
        tokio::task::spawn_blocking(move || {
            EmbeddedBroker::start(BrokerOptions {
                listen,
                local_client: Some(local_id.clone()),
                authenticator: Some(authenticator),
                login_changes,
                tls,
                max_payload,
                ..BrokerOptions::default()
            })
        })
    };
    let broker = match start(config.mqtt_listen).await? {
        Ok(b) => b,
        // The demo's locks run in-process, so any free port serves them.
        Err(e @ MqttError::AddrInUse { .. }) if demo => {
            tracing::warn!("{e}");
            let b = start(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0)).await??;
            tracing::warn!(
                addr = %b.listen_addr(),
                "the demo's MQTT broker listens on port {} instead of {}",
                b.listen_addr().port(),
                config.mqtt_listen.port()
            );
            b
        }
        Err(e) => return Err(e.into()),
    };
    let listen = broker.listen_addr();
    tracing::info!(broker = %format!("mqtt://{listen}"), "using the embedded MQTT broker (QoS 0)");
    let logins = broker::announce_logins(app, config, listen).await?;
    let mut session = SessionOptions::new(broker.internal_url(), client_id);
    session.clean_start = true;
    session.manual_acks = false;
    session.subscriptions = vec![(format!("{}/#", topics.base()), QoS::AtMostOnce)];
    // A wildcard listen address is reached through loopback.
    let fleet_ip = match listen.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    Ok(Plan {
        session,
        local: Some(broker),
        qos: QoS::AtMostOnce,
        banner: format!(
            "mqtt broker on {}://{listen} (Zigbee2MQTT base topic \"{}\"){logins}",
            if config.mqtt_tls.is_some() {
                "mqtts"
            } else {
                "mqtt"
            },
            topics.base()
        ),
        // The virtual locks speak plain MQTT only.
        fleet_broker: config.mqtt_tls.is_none().then(|| {
            let (user, password) = fleet_login
                .map(|(u, p)| (Some(u), Some(p)))
                .unwrap_or_default();
            (fleet_ip.to_string(), listen.port(), user, password)
        }),
        fleet_qos: 0,
    })
}

fn external(url: &MqttUrl, topics: &Topics, client_id: String) -> Plan {
    tracing::info!(broker = %url, "using an external MQTT broker (QoS 1, persistent session)");
    let mut session = SessionOptions::new(url.clone(), client_id);
    session.clean_start = false;
    session.session_expiry_secs = SESSION_EXPIRY_SECS;
    session.subscriptions = vec![(format!("{}/#", topics.base()), QoS::AtLeastOnce)];
    session.shared_group = Some(SHARED_GROUP.to_owned());
    // The retained device list never arrives on a shared subscription; every replica takes it
    // on its own (applying it twice is harmless: it is an upsert).
    session.unshared_subscriptions = vec![(
        format!("{}/bridge/devices", topics.base()),
        QoS::AtLeastOnce,
    )];
    // The bridge acknowledges a message only after its effects are committed.
    session.manual_acks = true;
    Plan {
        session,
        local: None,
        qos: QoS::AtLeastOnce,
        banner: format!(
            "mqtt broker at {url} (external; Zigbee2MQTT base topic \"{}\")",
            topics.base()
        ),
        fleet_broker: (!url.is_tls()).then(|| {
            (
                url.host().to_owned(),
                url.port(),
                url.username().map(str::to_owned),
                url.password().map(str::to_owned),
            )
        }),
        fleet_qos: 1,
    }
}

impl Devices {
    /// Stops the demo fleet (it says goodbye as Zigbee2MQTT does) and closes the session.
    pub async fn stop(self) {
        if let Some(f) = &self.fleet {
            f.shutdown().await;
        }
        if let Some((hass, topics)) = &self.hass {
            // A clean goodbye sends no last will: say it ourselves.
            let _ = hass.try_publish(topics.status(), b"offline".to_vec(), QoS::AtLeastOnce, true);
            tokio::time::sleep(Duration::from_millis(200)).await;
            hass.close().await;
        }
        self.session.close().await;
        let s = &self.stats;
        tracing::info!(
            received = s.received.load(Ordering::Relaxed),
            applied = s.applied.load(Ordering::Relaxed),
            duplicates = s.duplicates.load(Ordering::Relaxed),
            rejected = s.rejected.load(Ordering::Relaxed),
            commands_sent = s.commands_sent.load(Ordering::Relaxed),
            "MQTT session closed"
        );
    }
}
