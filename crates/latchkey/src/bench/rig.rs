//! A whole server for device benchmarks, in this process: a temporary SQLite store, the app,
//! the MQTT session, bridge and reconciler, the HTTP API on a free port, and a fleet of virtual
//! locks with zero actuation time — on the embedded broker, or on an external one. The locks
//! are Zigbee2MQTT ones, or Z-Wave nodes behind one virtual Z-Wave JS UI gateway (with the
//! Z-Wave gateway session `serve` runs).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use latchkey_app::authz::Principal;
use latchkey_app::devices::reconcile;
use latchkey_app::directory::{DoorInput, PropertyInput};
use latchkey_app::secrets::Keys;
use latchkey_app::{App, AppConfig, SystemClock};
use latchkey_bridge::{BridgeStats, IngestOptions, MqttLink, run_ingest};
use latchkey_core::DoorId;
use latchkey_core::model::{DoorKind, DoorMode};
use latchkey_core::schedule::Schedule;
use latchkey_mqtt::{
    BrokerOptions, ConnState, EmbeddedBroker, MqttUrl, QoS, Session, SessionHandle, SessionOptions,
};
use latchkey_sim::{FleetConfig, FleetHandle};
use latchkey_z2m::Topics;

use super::TempDir;
use crate::wiring::app_err;

pub struct Rig {
    pub app: App,
    /// The rig's database, for the bench's own counting reads (never for writes).
    pub store: latchkey_store::Store,
    pub admin: Principal,
    pub property: latchkey_core::PropertyId,
    pub doors: Vec<DoorId>,
    /// The virtual locks, when they run in this process.
    pub fleet: Option<FleetHandle>,
    /// The virtual Z-Wave gateway and its lock nodes, for a Z-Wave bench.
    pub zwave: Option<latchkey_sim::zwave::ZwaveSimHandle>,
    /// The virtual locks, when they run in a child process (so that this process's memory is
    /// the server's alone).
    pub _child: Option<tokio::process::Child>,
    /// Every replica's HTTP address, the first one first.
    pub replicas: Vec<SocketAddr>,
    /// Where a bare MQTT round trip is measured: the server's side of the broker.
    pub server_url: MqttUrl,
    pub session: SessionHandle,
    _broker: Option<EmbeddedBroker>,
    _database: Database,
}

/// Where the rig's database lives: a temporary SQLite file, or a PostgreSQL database created
/// for the run on a server the caller named, dropped at the end.
enum Database {
    /// Removed with its directory when dropped.
    Sqlite {
        _dir: TempDir,
    },
    Postgres {
        admin_url: String,
        name: String,
    },
}

impl Database {
    async fn create(tag: &str, postgres: Option<&str>) -> Result<(Database, String)> {
        match postgres {
            None => {
                let dir = TempDir::new(tag)?;
                let url = format!("sqlite://{}/bench.db", dir.0.display());
                Ok((Database::Sqlite { _dir: dir }, url))
            }
            Some(admin_url) => {
                let name = format!("latchkey_bench_{tag}_{}", std::process::id());
                latchkey_store::provision::create_postgres_database(admin_url, &name)
                    .await
                    .with_context(|| format!("cannot create the database {name}"))?;
                let url = with_database(admin_url, &name);
                Ok((
                    Database::Postgres {
                        admin_url: admin_url.to_owned(),
                        name,
                    },
                    url,
                ))
            }
        }
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        if let Database::Postgres { admin_url, name } = self {
            let (admin_url, name) = (admin_url.clone(), name.clone());
            // Best effort, on a thread of its own: the runtime may be going down.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build();
                if let Ok(rt) = rt {
                    let _ = rt.block_on(latchkey_store::provision::drop_postgres_database(
                        &admin_url, &name,
                    ));
                }
            })
            .join();
        }
    }
}

/// `url` with its database (the path) replaced by `name`.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let cut = base.rfind('/').unwrap_or(base.len());
    let mut out = format!("{}/{name}", &base[..cut]);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

pub async fn wait_connected(handle: &SessionHandle) -> Result<()> {
    let mut state = handle.state();
    tokio::time::timeout(Duration::from_secs(15), async {
        loop {
            if matches!(*state.borrow(), ConnState::Connected) {
                return;
            }
            if state.changed().await.is_err() {
                return;
            }
        }
    })
    .await
    .map_err(|_| anyhow!("the MQTT session did not connect within 15 s"))
}

/// What to build.
pub struct RigOptions<'a> {
    pub tag: &'a str,
    pub locks: usize,
    /// An external broker's URL; `None`: the embedded broker.
    pub external: Option<&'a str>,
    pub remote_per_minute: u32,
    pub fleet_in_process: bool,
    /// A PostgreSQL server to create the run's database on; `None`: a temporary SQLite file.
    pub postgres: Option<&'a str>,
    /// Server replicas on the one database and broker, each with its own pool, MQTT session
    /// (sharing the locks' reports, as `serve` replicas do) and HTTP listener.
    pub replicas: usize,
    /// What the locks speak.
    pub protocol: LockProtocol,
}

/// The protocol of a bench's locks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LockProtocol {
    /// Zigbee2MQTT locks.
    Zigbee,
    /// Z-Wave nodes behind one Z-Wave JS UI gateway (at most 231 locks: node ids 2–232, the
    /// controller being node 1).
    Zwave,
}

/// Lock nodes one Z-Wave network holds beside its controller.
pub const ZWAVE_MAX_LOCKS: usize = 231;

/// The first Z-Wave node id of the bench's locks (1 is the controller).
const FIRST_NODE: u16 = 2;

/// The address of the bench's `i`th lock.
pub fn lock_address(protocol: LockProtocol, i: usize) -> String {
    match protocol {
        LockProtocol::Zigbee => format!("lock-{i}"),
        LockProtocol::Zwave => latchkey_bridge::zwave::translate::address(
            FIRST_NODE + u16::try_from(i).unwrap_or(u16::MAX - FIRST_NODE),
        ),
    }
}

/// One server replica: its app (own pool), MQTT session, bridge and reconciler.
struct Replica {
    app: App,
    store: latchkey_store::Store,
    session: SessionHandle,
}

/// The group the replicas' sessions share the locks' reports in (as `serve` does).
const SHARED_GROUP: &str = "latchkey";

async fn start_replica(
    i: usize,
    o: &RigOptions<'_>,
    url: &str,
    broker: Option<&EmbeddedBroker>,
    server_url: &MqttUrl,
    qos: QoS,
) -> Result<Replica> {
    let store = latchkey_store::Store::open(url)
        .await
        .with_context(|| format!("cannot open the bench database for replica {i}"))?;
    let (port, rx_rec) = latchkey_bridge::BridgePort::new();
    let config = AppConfig {
        remote_per_minute: o.remote_per_minute,
        ..AppConfig::default()
    };
    let app = App::new(
        store.clone(),
        Keys::from_master(&[0x5a; 32]),
        Arc::new(SystemClock),
        port.clone(),
        config,
    );
    let tag = o.tag;
    let shared = o.replicas > 1;
    let mut opts = SessionOptions::new(
        server_url.clone(),
        format!("latchkey-bench-{tag}-{}-{i}", std::process::id()),
    );
    opts.subscriptions = vec![("zigbee2mqtt/#".into(), qos)];
    opts.shared_group = shared.then(|| SHARED_GROUP.to_owned());
    opts.manual_acks = qos == QoS::AtLeastOnce;
    opts.request_capacity = 65_536;
    opts.inbound_capacity = 16_384;
    // Against the embedded broker the first replica uses its in-process session, as `serve`
    // does; the others connect over TCP.
    let (session, rx) = match (broker, i) {
        (Some(b), 0) => {
            let filter = if shared {
                format!("$share/{SHARED_GROUP}/zigbee2mqtt/#")
            } else {
                "zigbee2mqtt/#".to_owned()
            };
            b.take_local_session(vec![(filter, qos)], opts.inbound_capacity)
        }
        _ => Session::start(opts),
    }
    .map_err(|e| anyhow!("{e}"))?;
    wait_connected(&session).await?;
    if shared {
        app.hear_answers_from_other_replicas()
            .await
            .map_err(app_err)?;
    }
    if shared {
        // Pairings made through another replica (the bench pairs every lock through the
        // first) reach this one's pairing cache, and changes its reconciler, through the
        // change feed, as with `serve`. Without it, a lock whose report this replica ingested
        // before the pairing stays cached as unknown here, and its answers are dropped.
        let follower = app.clone();
        tokio::spawn(async move {
            if let Err(e) = follower.follow_changes().await {
                tracing::error!(error = %e, "bench replica cannot follow the change feed");
            }
        });
    }
    let stats = Arc::new(BridgeStats::default());
    port.connect(MqttLink::new(
        session.clone(),
        Topics::default(),
        qos,
        stats.clone(),
    ));
    tokio::spawn(run_ingest(
        app.clone(),
        rx,
        session.clone(),
        IngestOptions::default(),
        stats,
    ));
    if o.protocol == LockProtocol::Zwave {
        crate::mqtt::start_zwave(
            &app,
            &port,
            server_url.clone(),
            &latchkey_zwave::Topics::default(),
            &format!("bench-{tag}-{}-{i}", std::process::id()),
        )?;
    }
    tokio::spawn(reconcile::run(
        app.clone(),
        rx_rec,
        reconcile::ReconcileOptions {
            tick: Duration::from_millis(20),
            confirm_after: Duration::from_secs(2),
            holder: format!("bench-{}-{i}", std::process::id()),
            ..Default::default()
        },
    ));
    Ok(Replica {
        app,
        store,
        session,
    })
}

/// Builds the server as `o` says, with `o.locks` doors, each paired with a virtual lock
/// `lock-<i>`.
///
/// # Errors
/// Any part fails to start.
pub async fn build_with(o: RigOptions<'_>) -> Result<Rig> {
    let (tag, locks, external) = (o.tag, o.locks, o.external);
    if o.protocol == LockProtocol::Zwave {
        if locks > ZWAVE_MAX_LOCKS {
            return Err(anyhow!(
                "a Z-Wave network holds at most {ZWAVE_MAX_LOCKS} locks beside its controller; a building with more runs one Z-Wave JS UI gateway per network"
            ));
        }
        if o.replicas > 1 || !o.fleet_in_process {
            return Err(anyhow!(
                "the Z-Wave bench runs one server with its virtual gateway in this process"
            ));
        }
    }
    let (database, url) = Database::create(tag, o.postgres).await?;
    let (broker, server_url, device_addr, qos) = match external {
        Some(u) => {
            let url = MqttUrl::parse(u).map_err(|e| anyhow!("{e}"))?;
            let addr: SocketAddr = format!("{}:{}", url.host(), url.port())
                .parse()
                .with_context(|| format!("the bench needs an IP address in {u}"))?;
            (None, url, addr, QoS::AtLeastOnce)
        }
        None => {
            let b = EmbeddedBroker::start(BrokerOptions {
                listen: "127.0.0.1:0".parse()?,
                local_client: Some(format!("latchkey-bench-{tag}")),
                max_payload: crate::mqtt::max_payload(o.protocol == LockProtocol::Zwave),
                ..BrokerOptions::default()
            })
            .map_err(|e| anyhow!("{e}"))?;
            let url = b.internal_url();
            let addr = b.listen_addr();
            (Some(b), url, addr, QoS::AtMostOnce)
        }
    };
    // The Z-Wave gateway first, so that the session's first node list has every lock.
    let zwave = if o.protocol == LockProtocol::Zwave {
        let nodes = (0..locks)
            .map(|i| {
                let id = FIRST_NODE + u16::try_from(i).unwrap_or(0);
                latchkey_sim::zwave::ZwaveLockConfig::new(id, format!("door_{id}"))
            })
            .collect();
        let (sim, _task) = latchkey_sim::zwave::run(latchkey_sim::zwave::ZwaveSimConfig {
            mqtt_host: device_addr.ip().to_string(),
            ..latchkey_sim::zwave::ZwaveSimConfig::new(device_addr.port(), nodes)
        });
        if !sim.connected(Duration::from_secs(30)).await {
            return Err(anyhow!("the virtual Z-Wave gateway did not connect"));
        }
        Some(sim)
    } else {
        None
    };
    let mut replicas = Vec::with_capacity(o.replicas.max(1));
    for i in 0..o.replicas.max(1) {
        replicas.push(start_replica(i, &o, &url, broker.as_ref(), &server_url, qos).await?);
    }
    let app = replicas[0].app.clone();
    let store = replicas[0].store.clone();
    let session = replicas[0].session.clone();
    let fleet_in_process = o.fleet_in_process;
    let sim_qos: u8 = if qos == QoS::AtLeastOnce { 1 } else { 0 };
    let (fleet, child) = if zwave.is_some() {
        (None, None)
    } else if fleet_in_process {
        let (fleet, _task) = latchkey_sim::run(FleetConfig {
            mqtt_host: device_addr.ip().to_string(),
            mqtt_port: device_addr.port(),
            client_id: format!("bench-fleet-{tag}-{}", std::process::id()),
            locks,
            actuation: Duration::ZERO,
            qos: sim_qos,
            ..FleetConfig::default()
        })
        .await
        .map_err(|e| anyhow!("{e}"))?;
        if !fleet.wait_connected(Duration::from_secs(30)).await {
            return Err(anyhow!("the virtual locks did not connect"));
        }
        (Some(fleet), None)
    } else {
        let exe =
            std::env::current_exe().context("cannot find this program to run the virtual locks")?;
        let mut child = tokio::process::Command::new(exe)
            .args(["sim", "run", "--mqtt-url"])
            .arg(format!("mqtt://{device_addr}"))
            .args([
                "--locks",
                &locks.to_string(),
                "--actuation-ms",
                "0",
                "--qos",
                &sim_qos.to_string(),
            ])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .context("cannot start `latchkey sim run`")?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| anyhow!("no output from the simulator"))?;
        let mut lines = tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(stdout));
        tokio::time::timeout(Duration::from_secs(60), async {
            while let Ok(Some(line)) = lines.next_line().await {
                if line.starts_with("sim:") {
                    return Ok(());
                }
            }
            Err(anyhow!("the simulator ended before connecting"))
        })
        .await
        .map_err(|_| anyhow!("the simulator did not connect within 60 s"))??;
        (None, Some(child))
    };

    let (admin, property, doors) = paired_building(&app, locks, o.protocol).await?;

    let mut https = Vec::with_capacity(replicas.len());
    for r in &replicas {
        https.push(serve_http(r.app.clone()).await?);
    }
    Ok(Rig {
        app,
        store,
        admin,
        property,
        doors,
        fleet,
        zwave,
        _child: child,
        replicas: https,
        server_url,
        session,
        _broker: broker,
        _database: database,
    })
}

/// Serves the HTTP API of `app` on a free port of the loopback interface, every answer counted
/// as `serve` counts it (the metrics layer is on the path being measured).
async fn serve_http(app: App) -> Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let http = listener.local_addr()?;
    let telemetry = latchkey_http::Telemetry::default();
    let router = latchkey_http::metrics::instrument(
        latchkey_http::router(
            app,
            latchkey_http::HttpConfig {
                telemetry: telemetry.clone(),
                ..latchkey_http::HttpConfig::default()
            },
        ),
        telemetry,
    );
    tokio::spawn(async move {
        let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
            let _ = tcp.set_nodelay(true);
        });
        let _ = axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await;
    });
    Ok(http)
}

/// The bench building: an admin, "Bench Tower", and `locks` doors, door `i` paired with the
/// bench's `i`th lock ([`lock_address`]). Returns the admin, the property and the doors in
/// order.
///
/// # Errors
/// A use case refuses (it should not on an empty database).
pub async fn paired_building(
    app: &App,
    locks: usize,
    protocol: LockProtocol,
) -> Result<(Principal, latchkey_core::PropertyId, Vec<DoorId>)> {
    let a = app
        .create_admin("Bench Admin", "bench@example.org", "bench-password-1")
        .await
        .map_err(app_err)?;
    let admin = app.terminal_principal(a.id).await.map_err(app_err)?;
    let prop = app
        .create_property(
            admin.admin()?,
            PropertyInput {
                name: "Bench Tower".into(),
                address: String::new(),
                timezone: "Europe/Berlin".into(),
                policy: Default::default(),
                office_hours: Schedule::Always,
            },
        )
        .await
        .map_err(app_err)?;
    let mut doors = Vec::with_capacity(locks);
    for i in 0..locks {
        let d = app
            .create_door(
                admin.staff(prop.id)?,
                DoorInput {
                    name: format!("Door {i}"),
                    kind: DoorKind::Amenity,
                    unit_id: None,
                    mode: DoorMode::Normal,
                    pin_slots: 30,
                },
            )
            .await
            .map_err(app_err)?;
        app.pair_lock(
            app.may_pair_lock(&admin, d.id).await?,
            Some(&lock_address(protocol, i)),
        )
        .await
        .map_err(app_err)?;
        doors.push(d.id);
    }
    Ok((admin, prop.id, doors))
}
