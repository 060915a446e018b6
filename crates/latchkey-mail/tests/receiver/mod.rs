//! A small SMTP receiver for tests, on a port of its own (RFC 5321: EHLO/HELO, AUTH PLAIN,
//! MAIL, RCPT, DATA, RSET, NOOP, QUIT). It refuses the first `refuse` transactions with a
//! 451 at MAIL FROM, as a relay that is briefly unwell does.

#![allow(dead_code, clippy::unwrap_used)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// One message as received.
#[derive(Clone, Debug)]
pub struct Received {
    pub auth: Option<String>,
    pub from: String,
    pub rcpt: Vec<String>,
    /// The DATA, dot-unstuffed, with quoted-printable parts decoded.
    pub data: String,
}

impl Received {
    /// The value of header `name` (first occurrence).
    pub fn header(&self, name: &str) -> Option<String> {
        let prefix = format!("{}:", name.to_ascii_lowercase());
        self.data
            .lines()
            .take_while(|l| !l.is_empty())
            .find(|l| l.to_ascii_lowercase().starts_with(&prefix))
            .map(|l| l[prefix.len()..].trim().to_owned())
    }
}

pub struct Receiver {
    pub addr: SocketAddr,
    pub got: Arc<Mutex<Vec<Received>>>,
    pub refuse: Arc<AtomicUsize>,
    pub refused: Arc<AtomicUsize>,
}

impl Receiver {
    pub async fn start(refuse: usize) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let got = Arc::new(Mutex::new(Vec::new()));
        let refuse = Arc::new(AtomicUsize::new(refuse));
        let refused = Arc::new(AtomicUsize::new(0));
        let (g, r, rd) = (got.clone(), refuse.clone(), refused.clone());
        tokio::spawn(async move {
            loop {
                let Ok((sock, _)) = listener.accept().await else {
                    return;
                };
                tokio::spawn(session(sock, g.clone(), r.clone(), rd.clone()));
            }
        });
        Receiver {
            addr,
            got,
            refuse,
            refused,
        }
    }

    pub fn got(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }
}

fn decode_qp(s: &str) -> String {
    let joined = s.replace("=\r\n", "").replace("=\n", "");
    let b = joined.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'='
            && i + 2 < b.len()
            && let (Some(h), Some(l)) = (
                (b[i + 1] as char).to_digit(16),
                (b[i + 2] as char).to_digit(16),
            )
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

async fn session(
    sock: tokio::net::TcpStream,
    got: Arc<Mutex<Vec<Received>>>,
    refuse: Arc<AtomicUsize>,
    refused: Arc<AtomicUsize>,
) {
    let (r, mut w) = sock.into_split();
    let mut r = BufReader::new(r);
    let _ = w.write_all(b"220 receiver.test ESMTP\r\n").await;
    let mut auth = None;
    let mut from = String::new();
    let mut rcpt = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        if r.read_line(&mut line).await.unwrap_or(0) == 0 {
            return;
        }
        let cmd = line.trim_end().to_owned();
        let upper = cmd.to_ascii_uppercase();
        let reply: &[u8] = if upper.starts_with("EHLO") {
            b"250-receiver.test\r\n250-AUTH PLAIN\r\n250 8BITMIME\r\n"
        } else if upper.starts_with("HELO") {
            b"250 receiver.test\r\n"
        } else if upper.starts_with("AUTH PLAIN ") {
            auth = Some(cmd[11..].to_owned());
            b"235 2.7.0 accepted\r\n"
        } else if upper.starts_with("MAIL FROM:") {
            let left = refuse.load(Ordering::SeqCst);
            if left > 0 {
                refuse.store(left - 1, Ordering::SeqCst);
                refused.fetch_add(1, Ordering::SeqCst);
                b"451 4.3.0 try again later\r\n"
            } else {
                from = cmd[10..].to_owned();
                rcpt.clear();
                b"250 2.1.0 ok\r\n"
            }
        } else if upper.starts_with("RCPT TO:") {
            rcpt.push(cmd[8..].trim_matches(|c| c == '<' || c == '>').to_owned());
            b"250 2.1.5 ok\r\n"
        } else if upper == "DATA" {
            let _ = w.write_all(b"354 end with <CRLF>.<CRLF>\r\n").await;
            let mut data = String::new();
            loop {
                line.clear();
                if r.read_line(&mut line).await.unwrap_or(0) == 0 {
                    return;
                }
                if line == ".\r\n" || line == ".\n" {
                    break;
                }
                let l = line.strip_prefix('.').unwrap_or(&line);
                data.push_str(l);
            }
            got.lock().unwrap().push(Received {
                auth: auth.clone(),
                from: from.clone(),
                rcpt: rcpt.clone(),
                data: decode_qp(&data),
            });
            b"250 2.0.0 queued\r\n"
        } else if upper == "RSET" || upper == "NOOP" {
            b"250 2.0.0 ok\r\n"
        } else if upper == "QUIT" {
            let _ = w.write_all(b"221 2.0.0 bye\r\n").await;
            return;
        } else {
            b"502 5.5.2 not implemented\r\n"
        };
        if w.write_all(reply).await.is_err() {
            return;
        }
    }
}
