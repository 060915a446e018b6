//! A private Mosquitto per test: on a free loopback port, with its own temp dir, killed on drop.
//!
//! std only. Tests skip themselves (with `SKIPPED: …` printed) when Mosquitto is not installed.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// Where Debian and Ubuntu install the broker.
pub const MOSQUITTO: &str = "/usr/sbin/mosquitto";

/// How long a freshly spawned broker has to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// A port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A Mosquitto of our own on a port of our own, killed (and its temp dir removed) on drop.
pub struct Mosquitto {
    pub port: u16,
    dir: PathBuf,
    child: Child,
}

impl Mosquitto {
    /// Starts one on a free port; `None` (with the reason printed) when Mosquitto is not
    /// installed — outside CI only: under `CI=true` that panics.
    pub fn start() -> Option<Self> {
        Self::start_on(free_port())
    }

    /// Starts one on `port`, e.g. again on the port of one that was killed. Nothing is
    /// persisted, so a restarted broker knows no sessions and no retained messages.
    pub fn start_on(port: u16) -> Option<Self> {
        Self::start_configured(port, |_| "allow_anonymous true\n".to_owned())
    }

    /// Starts one on a free port whose configuration adds what `conf` returns (given the
    /// broker's own temp dir, to write password or ACL files into) to the listener and logging
    /// lines; nothing else is set (Mosquitto 2 then refuses anonymous clients).
    pub fn start_with(conf: impl FnOnce(&Path) -> String) -> Option<Self> {
        Self::start_configured(free_port(), conf)
    }

    fn start_configured(port: u16, conf: impl FnOnce(&Path) -> String) -> Option<Self> {
        if !Path::new(MOSQUITTO).exists() {
            crate::require_in_ci(&format!("Mosquitto ({MOSQUITTO})"));
            eprintln!("SKIPPED: {MOSQUITTO} is not installed");
            return None;
        }
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "latchkey-mosquitto-{}-{}-{port}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).expect("mosquitto temp dir");
        // As root, Mosquitto drops to the `mosquitto` user, which must be able to write here.
        let _ = Command::new("chmod").arg("777").arg(&dir).status();
        let extra = conf(&dir);
        let conf = dir.join("mosquitto.conf");
        std::fs::write(
            &conf,
            format!(
                "listener {port} 127.0.0.1\nset_tcp_nodelay true\n\
                 persistence false\nlog_dest file {}\nmax_queued_messages 10000\n{extra}",
                dir.join("mosquitto.log").display()
            ),
        )
        .expect("write mosquitto.conf");
        let child = Command::new(MOSQUITTO)
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn mosquitto");
        // From here on, a failed start still kills the child and removes the dir.
        let mut broker = Self { port, dir, child };
        let deadline = Instant::now() + START_TIMEOUT;
        while TcpStream::connect(broker.addr()).is_err() {
            if let Ok(Some(status)) = broker.child.try_wait() {
                panic!(
                    "mosquitto exited ({status}) instead of listening on {port}; see {}",
                    broker.dir.join("mosquitto.log").display()
                );
            }
            assert!(
                Instant::now() < deadline,
                "mosquitto did not start on {port} within {START_TIMEOUT:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(broker)
    }

    /// `127.0.0.1:<port>`.
    pub fn addr(&self) -> SocketAddr {
        ([127, 0, 0, 1], self.port).into()
    }

    /// Kills it (SIGKILL, no clean shutdown) and waits until it is gone.
    pub fn kill(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_accepts_connections_and_restarts_on_the_same_port() {
        let Some(broker) = Mosquitto::start() else {
            return;
        };
        let port = broker.port;
        assert_eq!(broker.addr(), SocketAddr::from(([127, 0, 0, 1], port)));
        TcpStream::connect(broker.addr()).expect("connects");
        let dir = broker.dir.clone();
        broker.kill();
        assert!(!dir.exists(), "the temp dir is removed");
        assert!(
            TcpStream::connect(SocketAddr::from(([127, 0, 0, 1], port))).is_err(),
            "nothing listens after kill"
        );
        let again = Mosquitto::start_on(port).expect("restarts");
        TcpStream::connect(again.addr()).expect("connects again");
    }
}
