//! `latchkey bench unlock`: the remote unlock round trip — HTTP request → app (authorisation,
//! command recorded with its audit event) → broker → virtual lock → state report → ingestion →
//! HTTP reply — next to the bare MQTT publish→reply round trip through the same broker, measured
//! in the same run. Virtual locks act in zero time, so what is measured is latchkey.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use latchkey_mqtt::{QoS, Session, SessionOptions};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::rig::{self, wait_connected};
use crate::wiring::app_err;

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

/// A keep-alive HTTP/1.1 connection that sends one request at a time.
struct Http {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Http {
    async fn connect(addr: std::net::SocketAddr) -> Result<Http> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Http {
            stream,
            buf: Vec::with_capacity(4096),
        })
    }

    /// POSTs `{}` and returns the status code.
    async fn post(&mut self, path: &str, token: &str) -> Result<u16> {
        let req = format!(
            "POST {path} HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{{}}"
        );
        self.stream.write_all(req.as_bytes()).await?;
        self.buf.clear();
        let mut chunk = [0u8; 4096];
        loop {
            let n = self.stream.read(&mut chunk).await?;
            if n == 0 {
                bail!("the server closed the connection");
            }
            self.buf.extend_from_slice(&chunk[..n]);
            let Some(end) = find(&self.buf, b"\r\n\r\n") else {
                continue;
            };
            let head =
                std::str::from_utf8(&self.buf[..end]).context("response head is not text")?;
            let status: u16 = head
                .split_whitespace()
                .nth(1)
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| anyhow!("no status in {head:?}"))?;
            let len: usize = head
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse().ok())?
                })
                .unwrap_or(0);
            while self.buf.len() < end + 4 + len {
                let n = self.stream.read(&mut chunk).await?;
                if n == 0 {
                    bail!("the server closed the connection mid-body");
                }
                self.buf.extend_from_slice(&chunk[..n]);
            }
            return Ok(status);
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Bare MQTT publish→reply round trips through the same broker, in milliseconds, sorted.
async fn bare_round_trips(url: &latchkey_mqtt::MqttUrl, qos: QoS, n: usize) -> Result<Vec<f64>> {
    let mut o = SessionOptions::new(url.clone(), format!("bench-echo-{}", std::process::id()));
    o.subscriptions = vec![("bench/ping".into(), qos)];
    let (echo, mut echo_rx) = Session::start(o).map_err(|e| anyhow!("{e}"))?;
    let mut o = SessionOptions::new(url.clone(), format!("bench-ask-{}", std::process::id()));
    o.subscriptions = vec![("bench/pong".into(), qos)];
    let (ask, mut ask_rx) = Session::start(o).map_err(|e| anyhow!("{e}"))?;
    wait_connected(&echo).await?;
    wait_connected(&ask).await?;
    let responder = echo.clone();
    tokio::spawn(async move {
        while let Some(m) = echo_rx.recv().await {
            let payload = m.payload.to_vec();
            if responder
                .publish("bench/pong", payload, qos, false)
                .await
                .is_err()
            {
                break;
            }
        }
    });
    let mut out = Vec::with_capacity(n);
    for i in 0..n + 100 {
        let t = Instant::now();
        ask.publish("bench/ping", format!("{i}").into_bytes(), qos, false)
            .await
            .map_err(|e| anyhow!("{e}"))?;
        tokio::time::timeout(Duration::from_secs(5), ask_rx.recv())
            .await
            .map_err(|_| anyhow!("no MQTT reply within 5 s"))?
            .ok_or_else(|| anyhow!("the MQTT session closed"))?;
        if i >= 100 {
            out.push(t.elapsed().as_secs_f64() * 1e3);
        }
    }
    echo.close().await;
    ask.close().await;
    out.sort_by(f64::total_cmp);
    Ok(out)
}

/// # Errors
/// The bench's server cannot be built, or a request fails.
pub async fn run(
    requests: usize,
    workers: usize,
    external: Option<&str>,
    postgres: Option<&str>,
    replicas: usize,
) -> Result<()> {
    if replicas > 1 && external.is_none() {
        // Replicas of `serve` share an external broker (docs/OPERATIONS.md). In this process
        // every replica but the first would reach rumqttd over TCP, whose sockets keep Nagle's
        // algorithm on: the second of a lock's two messages to that replica waits for its
        // delayed ACK, ≈ 40 ms, which is the bench's, not latchkey's (docs/ARCHITECTURE.md,
        // decision 71).
        bail!(
            "--replicas {replicas} needs --mqtt-url: replicas share an external broker, as in \
             production (e.g. a Mosquitto with `set_tcp_nodelay true`, see docs/DEVICES.md)"
        );
    }
    let locks = (workers * 2).max(8);
    let rig = rig::build_with(rig::RigOptions {
        tag: "unlock",
        locks,
        external,
        remote_per_minute: u32::MAX,
        fleet_in_process: true,
        postgres,
        replicas: replicas.max(1),
        protocol: rig::LockProtocol::Zigbee,
    })
    .await?;
    let servers = rig.replicas.clone();
    let (token, _) = rig
        .app
        .create_api_token(rig.admin.own_account(), "bench")
        .await
        .map_err(app_err)?;
    let qos = if external.is_some() {
        QoS::AtLeastOnce
    } else {
        QoS::AtMostOnce
    };
    println!(
        "remote lock/unlock through HTTP, {} broker, {}, {} replica{} (requests round-robin), \
         {locks} virtual locks (zero actuation)",
        if external.is_some() {
            "external"
        } else {
            "embedded"
        },
        if postgres.is_some() {
            "PostgreSQL"
        } else {
            "SQLite"
        },
        servers.len(),
        if servers.len() == 1 { "" } else { "s" },
    );
    let bare = bare_round_trips(&rig.server_url, qos, 2_000).await?;

    // Latency: one request at a time, taking the replicas in turn.
    let mut https = Vec::with_capacity(servers.len());
    for addr in &servers {
        https.push(Http::connect(*addr).await?);
    }
    let mut lat = Vec::with_capacity(requests);
    let mut failures = 0usize;
    for k in 0..requests + 100 {
        let http = &mut https[k % servers.len()];
        let door = rig.doors[k % rig.doors.len()];
        let action = if (k / rig.doors.len()) % 2 == 0 {
            "unlock"
        } else {
            "lock"
        };
        let t = Instant::now();
        let status = http
            .post(&format!("/api/v1/doors/{door}/{action}"), &token)
            .await?;
        if k >= 100 {
            lat.push(t.elapsed().as_secs_f64() * 1e3);
            if status != 200 {
                failures += 1;
            }
        }
    }
    lat.sort_by(f64::total_cmp);

    // Throughput: `workers` connections, each toggling its own doors.
    let per_worker = requests.max(workers) / workers;
    let started = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for w in 0..workers {
        let doors: Vec<_> = rig.doors.iter().copied().skip(w).step_by(workers).collect();
        let token = token.clone();
        let addr = servers[w % servers.len()];
        set.spawn(async move {
            let mut http = Http::connect(addr).await?;
            let mut bad = 0usize;
            for k in 0..per_worker {
                let door = doors[k % doors.len()];
                let action = if (k / doors.len()) % 2 == 0 {
                    "lock"
                } else {
                    "unlock"
                };
                if http
                    .post(&format!("/api/v1/doors/{door}/{action}"), &token)
                    .await?
                    != 200
                {
                    bad += 1;
                }
            }
            Ok::<usize, anyhow::Error>(bad)
        });
    }
    while let Some(r) = set.join_next().await {
        failures += r.context("a bench worker panicked")??;
    }
    let elapsed = started.elapsed();
    let per_sec = (per_worker * workers) as f64 / elapsed.as_secs_f64();

    let (p50, p99) = (percentile(&lat, 0.5), percentile(&lat, 0.99));
    let (bp50, bp99) = (percentile(&bare, 0.5), percentile(&bare, 0.99));
    println!(
        "bare MQTT publish→reply:  p50 {bp50:.3} ms, p99 {bp99:.3} ms ({} round trips)",
        bare.len()
    );
    println!(
        "remote command via HTTP:  p50 {p50:.3} ms, p99 {p99:.3} ms ({} sequential requests)",
        lat.len()
    );
    println!(
        "p99 over the bare round trip: {:.3} ms (target ≤ 1.5 ms); absolute p99 target ≤ 5 ms",
        p99 - bp99
    );
    println!(
        "throughput: {per_sec:.0} commands/s with {workers} connections ({} requests in {:.2} s; \
         target ≥ 5,000/s on SQLite, ≥ 2,500/s on PostgreSQL with two replicas)",
        per_worker * workers,
        elapsed.as_secs_f64()
    );
    if failures > 0 {
        println!("{failures} requests were not answered 200 (confirmed)");
    }
    println!(
        "{}",
        json!({
            "bench": "unlock",
            "p50_ms": (p50 * 1000.0).round() / 1000.0,
            "p99_ms": (p99 * 1000.0).round() / 1000.0,
            "bare_p50_ms": (bp50 * 1000.0).round() / 1000.0,
            "bare_p99_ms": (bp99 * 1000.0).round() / 1000.0,
            "per_sec": per_sec.round(),
            "failures": failures,
            "replicas": servers.len(),
            "backend": if postgres.is_some() { "postgres" } else { "sqlite" },
        })
    );
    if failures > 0 {
        bail!("{failures} commands were not confirmed");
    }
    rig.session.close().await;
    Ok(())
}
