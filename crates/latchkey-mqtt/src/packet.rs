//! Just enough of MQTT 3.1.1 framing for the front ([`crate::front`]): split a byte stream into
//! packets, and read or rewrite the few the front looks into (CONNECT, PUBLISH, SUBSCRIBE,
//! SUBACK). Everything else passes through as bytes. No I/O beyond the reader given.

use tokio::io::{AsyncRead, AsyncReadExt};

/// One packet: its first byte (type and flags) and its body (after the remaining length).
#[derive(Debug, Clone)]
pub(crate) struct Frame {
    pub header: u8,
    pub body: Vec<u8>,
}

pub(crate) const CONNECT: u8 = 1;
pub(crate) const PUBLISH: u8 = 3;
pub(crate) const SUBSCRIBE: u8 = 8;
pub(crate) const SUBACK: u8 = 9;

impl Frame {
    pub fn kind(&self) -> u8 {
        self.header >> 4
    }

    /// The bytes on the wire.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.body.len() + 5);
        out.push(self.header);
        let mut len = self.body.len();
        loop {
            let mut byte = u8::try_from(len % 128).unwrap_or(0);
            len /= 128;
            if len > 0 {
                byte |= 0x80;
            }
            out.push(byte);
            if len == 0 {
                break;
            }
        }
        out.extend_from_slice(&self.body);
        out
    }
}

/// Reads one packet; `Ok(None)` at a clean end of stream before a packet starts.
///
/// # Errors
/// An I/O error, a malformed remaining length, or a packet longer than `max` bytes
/// (`InvalidData`).
pub(crate) async fn read_frame<R: AsyncRead + Unpin>(
    r: &mut R,
    max: usize,
) -> std::io::Result<Option<Frame>> {
    let mut first = [0u8; 1];
    if r.read(&mut first).await? == 0 {
        return Ok(None);
    }
    let mut len: usize = 0;
    let mut shift = 0;
    loop {
        let b = r.read_u8().await?;
        len |= usize::from(b & 0x7F) << shift;
        if b & 0x80 == 0 {
            break;
        }
        shift += 7;
        if shift > 21 {
            return Err(invalid("malformed remaining length"));
        }
    }
    if len > max {
        return Err(invalid("packet too large"));
    }
    let mut body = vec![0u8; len];
    r.read_exact(&mut body).await?;
    Ok(Some(Frame {
        header: first[0],
        body,
    }))
}

fn invalid(what: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned())
}

/// A cursor over a packet body.
struct Reader<'a> {
    buf: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn u8(&mut self) -> Option<u8> {
        let b = *self.buf.get(self.at)?;
        self.at += 1;
        Some(b)
    }

    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_be_bytes([self.u8()?, self.u8()?]))
    }

    fn bytes(&mut self) -> Option<&'a [u8]> {
        let n = usize::from(self.u16()?);
        let s = self.buf.get(self.at..self.at + n)?;
        self.at += n;
        Some(s)
    }

    fn string(&mut self) -> Option<String> {
        String::from_utf8(self.bytes()?.to_vec()).ok()
    }

    fn rest(&self) -> &'a [u8] {
        self.buf.get(self.at..).unwrap_or_default()
    }
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(&u16::try_from(b.len()).unwrap_or(u16::MAX).to_be_bytes());
    out.extend_from_slice(b);
}

/// A CONNECT, parsed.
#[derive(Clone)]
pub(crate) struct Connect {
    pub protocol: String,
    pub level: u8,
    /// The flags byte without the user name and password bits.
    flags: u8,
    keep_alive: u16,
    pub client_id: String,
    pub will: Option<(String, Vec<u8>)>,
    pub username: Option<String>,
    pub password: Option<Vec<u8>>,
}

impl std::fmt::Debug for Connect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connect")
            .field("level", &self.level)
            .field("client_id", &self.client_id)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

impl Connect {
    /// `None` when the body is not a well-formed CONNECT.
    pub fn parse(body: &[u8]) -> Option<Connect> {
        let mut r = Reader { buf: body, at: 0 };
        let protocol = r.string()?;
        let level = r.u8()?;
        let flags = r.u8()?;
        let keep_alive = r.u16()?;
        let client_id = r.string()?;
        let will = if flags & 0x04 != 0 {
            Some((r.string()?, r.bytes()?.to_vec()))
        } else {
            None
        };
        let username = if flags & 0x80 != 0 {
            Some(r.string()?)
        } else {
            None
        };
        let password = if flags & 0x40 != 0 {
            Some(r.bytes()?.to_vec())
        } else {
            None
        };
        Some(Connect {
            protocol,
            level,
            flags: flags & 0x3F,
            keep_alive,
            client_id,
            will,
            username,
            password,
        })
    }

    /// The packet on the wire.
    pub fn encode(&self) -> Vec<u8> {
        let mut flags = self.flags;
        if self.username.is_some() {
            flags |= 0x80;
        }
        if self.password.is_some() {
            flags |= 0x40;
        }
        let mut body = Vec::new();
        put_bytes(&mut body, self.protocol.as_bytes());
        body.push(self.level);
        body.push(flags);
        body.extend_from_slice(&self.keep_alive.to_be_bytes());
        put_bytes(&mut body, self.client_id.as_bytes());
        if let Some((topic, msg)) = &self.will {
            put_bytes(&mut body, topic.as_bytes());
            put_bytes(&mut body, msg);
        }
        if let Some(u) = &self.username {
            put_bytes(&mut body, u.as_bytes());
        }
        if let Some(p) = &self.password {
            put_bytes(&mut body, p);
        }
        Frame { header: 0x10, body }.encode()
    }
}

/// A CONNACK with `code` (0 accepted, 1 bad protocol level, 2 identifier rejected, 3 server
/// unavailable, 4 bad user name or password, 5 not authorised).
pub(crate) fn connack(code: u8) -> Vec<u8> {
    vec![0x20, 0x02, 0x00, code]
}

/// A PUBLISH's topic, QoS and packet id (for QoS 1 and 2).
pub(crate) fn publish_topic(frame: &Frame) -> Option<(String, u8, Option<u16>)> {
    let qos = (frame.header >> 1) & 0x03;
    let mut r = Reader {
        buf: &frame.body,
        at: 0,
    };
    let topic = r.string()?;
    let pid = if qos > 0 { Some(r.u16()?) } else { None };
    Some((topic, qos, pid))
}

/// A PUBACK for `pid`.
pub(crate) fn puback(pid: u16) -> Vec<u8> {
    let [a, b] = pid.to_be_bytes();
    vec![0x40, 0x02, a, b]
}

/// A SUBSCRIBE's packet id and its (filter, QoS) pairs.
pub(crate) fn subscribe_filters(frame: &Frame) -> Option<(u16, Vec<(String, u8)>)> {
    let mut r = Reader {
        buf: &frame.body,
        at: 0,
    };
    let pid = r.u16()?;
    let mut filters = Vec::new();
    while !r.rest().is_empty() {
        let f = r.string()?;
        let q = r.u8()?;
        filters.push((f, q));
    }
    (!filters.is_empty()).then_some((pid, filters))
}

/// A SUBSCRIBE with `filters`.
pub(crate) fn subscribe(pid: u16, filters: &[(String, u8)]) -> Vec<u8> {
    let mut body = pid.to_be_bytes().to_vec();
    for (f, q) in filters {
        put_bytes(&mut body, f.as_bytes());
        body.push(*q);
    }
    Frame { header: 0x82, body }.encode()
}

/// A SUBACK with one return code per filter (0x80: refused).
pub(crate) fn suback(pid: u16, codes: &[u8]) -> Vec<u8> {
    let mut body = pid.to_be_bytes().to_vec();
    body.extend_from_slice(codes);
    Frame { header: 0x90, body }.encode()
}

/// A SUBACK's packet id and return codes.
pub(crate) fn suback_codes(frame: &Frame) -> Option<(u16, Vec<u8>)> {
    let mut r = Reader {
        buf: &frame.body,
        at: 0,
    };
    let pid = r.u16()?;
    Some((pid, r.rest().to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_connect_survives_a_round_trip_with_new_credentials() {
        let mut c = Connect {
            protocol: "MQTT".into(),
            level: 4,
            flags: 0x02 | 0x04,
            keep_alive: 60,
            client_id: "z2m".into(),
            will: Some(("zigbee2mqtt/bridge/state".into(), b"offline".to_vec())),
            username: None,
            password: None,
        };
        c.username = Some("internal".into());
        c.password = Some(b"secret".to_vec());
        let wire = c.encode();
        assert_eq!(wire[0], 0x10);
        let back = Connect::parse(&wire[2..]).expect("parses");
        assert_eq!(back.client_id, "z2m");
        assert_eq!(back.username.as_deref(), Some("internal"));
        assert_eq!(back.password.as_deref(), Some(&b"secret"[..]));
        assert_eq!(back.will.expect("will").0, "zigbee2mqtt/bridge/state");
        assert_eq!(back.flags, 0x06);
    }

    #[tokio::test]
    async fn long_packets_frame_with_a_multi_byte_length() {
        let f = Frame {
            header: 0x30,
            body: vec![7; 300],
        };
        let wire = f.encode();
        assert_eq!(&wire[1..3], &[0xAC, 0x02]);
        let mut r = &wire[..];
        let back = read_frame(&mut r, 1000).await.expect("reads").expect("one");
        assert_eq!(back.body.len(), 300);
        let mut r = &wire[..];
        assert!(read_frame(&mut r, 100).await.is_err(), "over the limit");
    }
}
