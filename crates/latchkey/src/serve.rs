//! `latchkey serve`: open the data, optionally create the demo, bind, print the one line tests
//! parse, serve until Ctrl-C or SIGTERM, then close the store.

use std::io::Write;
use std::time::Instant;

use anyhow::{Context, Result};
use latchkey_http::HttpConfig;
use tokio::net::TcpListener;

use crate::config::Config;
use crate::demo;
use crate::wiring::open_app;

/// Serves until a shutdown signal.
///
/// # Errors
/// The data cannot be opened, the demo cannot be created, or the address cannot be bound.
pub async fn run(config: Config, with_demo: bool, started: Instant) -> Result<()> {
    tracing::info!(config = %config.summary(), "effective configuration");
    let shutdown = shutdown_signal();
    let app = open_app(&config).await?;
    let signins = if with_demo {
        Some(demo::ensure(&app).await?)
    } else {
        None
    };
    let listener = TcpListener::bind(&config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let addr = listener
        .local_addr()
        .context("the bound socket has no address")?;
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "latchkey listening on http://{addr}")?;
        if let Some(signins) = &signins {
            demo::print_signins(&mut out, addr, signins)?;
        }
        out.flush()?;
    }
    tracing::info!(
        %addr,
        startup_ms = started.elapsed().as_millis() as u64,
        "serving"
    );
    let router = latchkey_http::router(
        app.clone(),
        HttpConfig {
            secure_cookies: config.secure_cookies,
        },
    );
    // The peer address reaches handlers for per-source rate limits.
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
    .context("the HTTP server failed")?;
    tracing::info!("shutting down: closing the database");
    app.store().close().await;
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM. The handlers are installed when this is called (not when it
/// is first polled), so a signal that arrives right after the listening line still stops the
/// server gracefully. If a handler cannot be installed, that signal is logged and not awaited.
fn shutdown_signal() -> impl Future<Output = ()> {
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
