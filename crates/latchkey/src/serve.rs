//! `latchkey serve`: open the data, optionally create the demo, start the device side (MQTT),
//! anchor the audit chain's head, bind, print the lines tests parse (listening first), serve
//! until Ctrl-C or SIGTERM, then stop the device side, write the last anchor and close the store.

use std::io::Write;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use latchkey_app::NoDevices;
use latchkey_http::HttpConfig;
use tokio::net::TcpListener;

use crate::anchors::{self, AnchorWriter};
use crate::config::Config;
use crate::wiring::open_app;
use crate::{demo, history, mqtt};

/// What `serve` was asked for besides the configuration.
#[derive(Clone, Copy, Debug)]
pub struct ServeMode {
    pub demo: bool,
    /// No broker at all: the API only, lock commands fail.
    pub no_mqtt: bool,
}

/// The Web Push channel, with the VAPID key made on first start (docs/OPERATIONS.md,
/// "Notifications on devices").
async fn web_push(
    app: &latchkey_app::App,
    subject: &str,
) -> Option<Arc<dyn latchkey_app::outbox::Pusher>> {
    let key = match app.vapid_key().await {
        Ok(k) => k,
        Err(e) => {
            tracing::error!("notifications on devices are off: the VAPID key: {e}");
            return None;
        }
    };
    let config = latchkey_push::PushConfig {
        subject: subject.to_owned(),
        timeout: std::time::Duration::from_secs(30),
    };
    match latchkey_push::WebPush::new(&key, &config) {
        Ok(p) => {
            tracing::info!(public_key = %key.public_base64(), "notifications on devices are on");
            Some(Arc::new(p))
        }
        Err(e) => {
            tracing::error!("notifications on devices are off: {e}");
            None
        }
    }
}

/// A tuning of the outbox from the environment, in seconds (docs/OPERATIONS.md, "Webhooks"):
/// a shorter lease lets a restarted server resend what a killed one held sooner.
fn secs(name: &str) -> Option<std::time::Duration> {
    let v = std::env::var(name).ok()?;
    match v.trim().parse::<u64>() {
        Ok(n) if n > 0 => Some(std::time::Duration::from_secs(n)),
        _ => {
            tracing::warn!("{name}=`{v}` is not a whole number of seconds above 0; ignored");
            None
        }
    }
}

/// Delivers notifications (docs/OPERATIONS.md, "Notifications") for as long as it runs.
async fn run_outbox(app: latchkey_app::App, config: Config) {
    let email = match &config.smtp {
        Some(smtp) => match latchkey_mail::Smtp::new(smtp) {
            Ok(m) => Some(Arc::new(m) as Arc<dyn latchkey_app::outbox::Mailer>),
            Err(e) => {
                tracing::error!("e-mail is off: {e}");
                None
            }
        },
        None => None,
    };
    if email.is_none() {
        tracing::info!("no SMTP relay is configured: notifications are kept, not e-mailed");
    }
    let push = match &config.push_subject {
        Some(subject) => web_push(&app, subject).await,
        None => {
            tracing::info!("no push subject is configured: notifications on devices are off");
            None
        }
    };
    let webhook = Arc::new(latchkey_webhook::HttpSender::new(
        latchkey_webhook::HttpConfig {
            targets: config.webhook_targets,
            ..latchkey_webhook::HttpConfig::default()
        },
    )) as Arc<dyn latchkey_app::outbox::WebhookSender>;
    let defaults = latchkey_app::outbox::OutboxConfig::default();
    let worker = app.outbox_worker(
        latchkey_app::outbox::OutboxConfig {
            web_url: config.link_base(),
            worker: format!("{}-{}", config.replica_id, defaults.worker),
            lease: secs("LATCHKEY_OUTBOX_LEASE_SECS").unwrap_or(defaults.lease),
            first_backoff: secs("LATCHKEY_OUTBOX_FIRST_BACKOFF_SECS")
                .unwrap_or(defaults.first_backoff),
            ..defaults
        },
        latchkey_app::outbox::Channels {
            email,
            push,
            webhook: Some(webhook),
        },
    );
    if let Err(e) = worker.run().await {
        tracing::error!("the notification outbox stopped: {e}");
    }
}

/// Serves until a shutdown signal.
///
/// # Errors
/// The data cannot be opened, the demo cannot be created, the MQTT broker cannot start, or the
/// address cannot be bound.
pub async fn run(config: Config, mode: ServeMode, started: Instant) -> Result<()> {
    tracing::info!(config = %config.summary(), "effective configuration");
    let shutdown = shutdown_signal();
    let (app, reconcile_rx) = if mode.no_mqtt {
        tracing::info!("--no-mqtt: no MQTT broker; locks get no commands");
        (open_app(&config, Arc::new(NoDevices)).await?, None)
    } else {
        let (port, rx) = latchkey_bridge::BridgePort::new();
        (open_app(&config, port.clone()).await?, Some((port, rx)))
    };
    // Before anything else writes: is this database older than the history recorded outside
    // it (a restored backup)? Then latchkey enters the restored state.
    history::check(&app, &config)
        .await
        .context("comparing the database with its recorded history")?;
    let (stop_marker, marker_stopped) = tokio::sync::oneshot::channel::<()>();
    let marking = tokio::spawn(history::run(
        app.clone(),
        history::marker_path(&config.data_dir),
        async move {
            let _ = marker_stopped.await;
        },
    ));
    // Older versions let staff credentials list units' own doors; they never open them now,
    // and this takes them off (audited). See OPERATIONS.md, "Staff and units' doors".
    app.remove_staff_unit_doors()
        .await
        .map_err(crate::wiring::app_err)
        .context("taking units' doors off staff credentials")?;
    let demo = if mode.demo {
        Some(demo::ensure(&app).await?)
    } else {
        None
    };
    let devices = match reconcile_rx {
        Some((port, rx)) => {
            let fleet = demo.as_ref().map(|d| {
                (
                    mqtt::DemoDevices {
                        locks: d.locks.clone(),
                        sensors: d.sensors.clone(),
                    },
                    config.data_dir.as_path(),
                )
            });
            Some(mqtt::start(&app, &config, &port, rx, fleet).await?)
        }
        None => None,
    };
    // The first anchor is written before serving, so a misconfigured anchor file stops the
    // start here rather than failing unseen later.
    let mut anchor_writer = AnchorWriter::new(app.clone(), config.audit_anchor_file.clone());
    anchor_writer.write(true).await?;
    let (stop_anchors, anchors_stopped) = tokio::sync::oneshot::channel::<()>();
    let anchoring = tokio::spawn(anchors::run(anchor_writer, async move {
        let _ = anchors_stopped.await;
    }));
    let retention = tokio::spawn(crate::retention::run(app.clone()));
    let outbox = tokio::spawn(run_outbox(app.clone(), config.clone()));
    let listener = TcpListener::bind(&config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let addr = listener
        .local_addr()
        .context("the bound socket has no address")?;
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "latchkey listening on http://{addr}")?;
        if let Some(devices) = &devices {
            writeln!(out, "{}", devices.banner)?;
        }
        if let Some(demo) = &demo {
            demo::print_signins(&mut out, addr, &demo.signins)?;
        }
        out.flush()?;
    }
    if config.public_url.is_none() && !addr.ip().is_loopback() {
        tracing::warn!(
            "public_url is not set: browser changes are accepted only from http:// and the Host \
             they name; behind an HTTPS proxy set public_url, or signed-in browsers are refused"
        );
    }
    tracing::info!(
        %addr,
        secure_cookies = config.cookies_secure(addr),
        startup_ms = started.elapsed().as_millis() as u64,
        "serving"
    );
    let telemetry = latchkey_http::Telemetry::default();
    let api = latchkey_http::router(
        app.clone(),
        HttpConfig {
            secure_cookies: config.cookies_secure(addr),
            public_origin: config.public_url.clone(),
            broker: (!mode.no_mqtt && config.mqtt_url.is_none())
                .then(|| crate::broker::broker_address(&config, config.mqtt_listen)),
            telemetry: telemetry.clone(),
            metrics_token: config.metrics_token.clone(),
            // The reconciler runs (and holds its lease under this name) with the device side.
            replica: (!mode.no_mqtt).then(|| config.replica_id.clone()),
        },
    );
    // The residents' pages at `/`, `/sign-in`, `/locked-out`, …; the API stays under `/api`.
    let router = latchkey_web::router(
        app.clone(),
        latchkey_web::WebConfig {
            secure_cookies: config.cookies_secure(addr),
            public_origin: config.public_url.as_ref().map(ToString::to_string),
        },
        api,
    );
    // Every answer, pages and API, is counted and timed (docs/OPERATIONS.md, "Monitoring").
    let router = latchkey_http::metrics::instrument(router, telemetry);
    // The peer address reaches handlers for per-source rate limits.
    // Replies go out at once: a response written in two parts must not wait for the
    // client's delayed ACK (Nagle).
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!("cannot set TCP_NODELAY: {e}");
        }
    });
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
    .context("the HTTP server failed")?;
    if let Some(devices) = devices {
        tracing::info!("shutting down: closing the MQTT session");
        devices.stop().await;
    }
    tracing::info!("shutting down: anchoring the audit chain");
    let _ = stop_anchors.send(());
    if let Err(e) = anchoring.await {
        tracing::error!("the audit anchor task failed: {e}");
    }
    let _ = stop_marker.send(());
    if let Err(e) = marking.await {
        tracing::error!("the history marker task failed: {e}");
    }
    retention.abort();
    outbox.abort();
    tracing::info!("shutting down: closing the database");
    app.close().await;
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM. The handlers are installed when this is called (not when it
/// is first polled), so a signal that arrives right after the listening line still stops the
/// server gracefully. If a handler cannot be installed, that signal is logged and not awaited.
pub fn shutdown_signal() -> impl Future<Output = ()> {
    #[cfg(unix)]
    let (mut int, mut term) = {
        use tokio::signal::unix::{SignalKind, signal};
        let install = |kind: SignalKind, name: &str| {
            signal(kind)
                .inspect_err(|e| tracing::error!("cannot listen for {name}: {e}"))
                .ok()
        };
        (
            install(SignalKind::interrupt(), "Ctrl-C"),
            install(SignalKind::terminate(), "SIGTERM"),
        )
    };
    async move {
        #[cfg(unix)]
        {
            let int = async {
                match int.as_mut() {
                    Some(s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            let term = async {
                match term.as_mut() {
                    Some(s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                () = int => {},
                () = term => {},
            }
        }
        #[cfg(not(unix))]
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!("cannot listen for Ctrl-C: {e}");
            std::future::pending::<()>().await;
        }
        tracing::info!("shutdown signal received");
    }
}
