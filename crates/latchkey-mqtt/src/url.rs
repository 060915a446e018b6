//! `mqtt://` and `mqtts://` broker URLs.

use std::fmt;
use std::net::SocketAddr;

use crate::MqttError;

/// Default port of plain MQTT.
pub const DEFAULT_PORT: u16 = 1883;
/// Default port of MQTT over TLS.
pub const DEFAULT_TLS_PORT: u16 = 8883;

/// Where a broker is and how to log in to it.
///
/// `mqtt://[user[:password]@]host[:port]` (plain TCP, default port 1883) or `mqtts://…` (TLS,
/// default port 8883). User and password are percent-decoded, so a password containing `@` or
/// `:` is written `%40` / `%3A`. IPv6 hosts go in brackets: `mqtt://[::1]:1883`.
///
/// `Display` and `Debug` never show the password.
#[derive(Clone, PartialEq, Eq)]
pub struct MqttUrl {
    tls: bool,
    host: String,
    port: u16,
    username: Option<String>,
    password: Option<String>,
}

impl MqttUrl {
    /// Parses a broker URL.
    ///
    /// # Errors
    /// [`MqttError::InvalidUrl`] with a reason: unknown scheme, empty host, bad port, bad
    /// percent-encoding, a path or query (brokers have none), a password without a user.
    pub fn parse(input: &str) -> Result<Self, MqttError> {
        let fail = |reason: &str| MqttError::InvalidUrl {
            url: redact(input),
            reason: reason.to_owned(),
        };
        let (tls, rest) = if let Some(rest) = strip_prefix_ci(input, "mqtt://") {
            (false, rest)
        } else if let Some(rest) = strip_prefix_ci(input, "mqtts://") {
            (true, rest)
        } else if input.contains("://") {
            return Err(fail("the scheme must be mqtt:// (plain) or mqtts:// (TLS)"));
        } else {
            return Err(fail("expected mqtt://HOST[:PORT] or mqtts://HOST[:PORT]"));
        };
        let authority = match rest.find(['/', '?', '#']) {
            Some(i) if rest[i..] == *"/" => &rest[..i],
            Some(_) => return Err(fail("an MQTT URL has no path, query or fragment")),
            None => rest,
        };
        let (userinfo, hostport) = match authority.rfind('@') {
            Some(i) => (Some(&authority[..i]), &authority[i + 1..]),
            None => (None, authority),
        };
        let (username, password) = match userinfo {
            None => (None, None),
            Some(info) => {
                let (user, pass) = match info.split_once(':') {
                    Some((u, p)) => (u, Some(p)),
                    None => (info, None),
                };
                let user = percent_decode(user)
                    .ok_or_else(|| fail("the user name has bad percent-encoding"))?;
                let pass = pass
                    .map(percent_decode)
                    .map(|p| p.ok_or_else(|| fail("the password has bad percent-encoding")))
                    .transpose()?;
                if user.is_empty() {
                    if pass.is_some() {
                        return Err(fail("a password needs a user name"));
                    }
                    (None, None)
                } else {
                    (Some(user), pass)
                }
            }
        };
        let (host, port) = split_host_port(hostport).map_err(fail)?;
        let port = match port {
            None => {
                if tls {
                    DEFAULT_TLS_PORT
                } else {
                    DEFAULT_PORT
                }
            }
            Some(p) => match p.parse::<u16>() {
                Ok(0) | Err(_) => return Err(fail("the port must be a number from 1 to 65535")),
                Ok(p) => p,
            },
        };
        Ok(Self {
            tls,
            host: host.to_owned(),
            port,
            username,
            password,
        })
    }

    /// A plain-TCP URL for a socket address, e.g. the embedded broker's internal v5 listener.
    pub fn tcp(addr: SocketAddr) -> Self {
        Self {
            tls: false,
            host: addr.ip().to_string(),
            port: addr.port(),
            username: None,
            password: None,
        }
    }

    /// True for `mqtts://`.
    pub fn is_tls(&self) -> bool {
        self.tls
    }

    /// Host name or IP address, without brackets.
    pub fn host(&self) -> &str {
        &self.host
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The percent-decoded user name, if any.
    pub fn username(&self) -> Option<&str> {
        self.username.as_deref()
    }

    /// The percent-decoded password, if any. Never log it.
    pub fn password(&self) -> Option<&str> {
        self.password.as_deref()
    }
}

impl fmt::Display for MqttUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.tls { "mqtts://" } else { "mqtt://" })?;
        if let Some(user) = &self.username {
            write!(f, "{user}")?;
            if self.password.is_some() {
                f.write_str(":***")?;
            }
            f.write_str("@")?;
        }
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

impl fmt::Debug for MqttUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MqttUrl({self})")
    }
}

impl std::str::FromStr for MqttUrl {
    type Err = MqttError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

fn split_host_port(s: &str) -> Result<(&str, Option<&str>), &'static str> {
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let end = rest
            .find(']')
            .ok_or("an IPv6 host needs a closing bracket: [::1]:1883")?;
        let host = &rest[..end];
        let after = &rest[end + 1..];
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p),
            None if after.is_empty() => None,
            None => return Err("unexpected text after the IPv6 host"),
        };
        (host, port)
    } else {
        match s.rsplit_once(':') {
            Some((h, _)) if h.contains(':') => {
                return Err("write an IPv6 host in brackets: mqtt://[::1]:1883");
            }
            Some((h, p)) => (h, Some(p)),
            None => (s, None),
        }
    };
    if host.is_empty() {
        return Err("the host is missing");
    }
    if host.contains(|c: char| c.is_whitespace() || c == '%') {
        return Err("the host contains characters that are not allowed");
    }
    Ok((host, port))
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Hides the password of a URL that may not even parse, for error messages.
fn redact(input: &str) -> String {
    let Some(scheme_end) = input.find("://").map(|i| i + 3) else {
        return input.to_owned();
    };
    let rest = &input[scheme_end..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return input.to_owned();
    };
    match rest[..at].find(':') {
        Some(colon) => format!(
            "{}{}:***{}",
            &input[..scheme_end],
            &rest[..colon],
            &rest[at..]
        ),
        None => input.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> MqttUrl {
        match MqttUrl::parse(s) {
            Ok(u) => u,
            Err(e) => panic!("{s}: {e}"),
        }
    }

    fn reason(s: &str) -> String {
        match MqttUrl::parse(s) {
            Ok(u) => panic!("{s} parsed as {u}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn plain_url_gets_the_default_port() {
        let u = parse("mqtt://broker.local");
        assert!(!u.is_tls());
        assert_eq!((u.host(), u.port()), ("broker.local", 1883));
        assert_eq!(u.username(), None);
    }

    #[test]
    fn tls_url_gets_port_8883() {
        let u = parse("mqtts://broker.example.com/");
        assert!(u.is_tls());
        assert_eq!(u.port(), 8883);
    }

    #[test]
    fn credentials_are_percent_decoded() {
        let u = parse("mqtt://lat%40ch:p%40ss%3Aw0rd@10.0.0.2:1884");
        assert_eq!(u.username(), Some("lat@ch"));
        assert_eq!(u.password(), Some("p@ss:w0rd"));
        assert_eq!((u.host(), u.port()), ("10.0.0.2", 1884));
    }

    #[test]
    fn display_and_debug_redact_the_password() {
        let u = parse("mqtt://user:secret@host:1883");
        assert_eq!(u.to_string(), "mqtt://user:***@host:1883");
        assert!(!format!("{u:?}").contains("secret"));
    }

    #[test]
    fn errors_redact_the_password_too() {
        let msg = reason("mqtt://user:secret@host:99999");
        assert!(msg.contains("port"), "{msg}");
        assert!(!msg.contains("secret"), "{msg}");
    }

    #[test]
    fn ipv6_hosts_go_in_brackets() {
        let u = parse("mqtt://[::1]:1999");
        assert_eq!((u.host(), u.port()), ("::1", 1999));
        assert_eq!(u.to_string(), "mqtt://[::1]:1999");
        assert!(reason("mqtt://::1:1883").contains("brackets"));
    }

    #[test]
    fn bad_urls_say_why() {
        assert!(reason("http://host").contains("mqtt://"));
        assert!(reason("host:1883").contains("mqtt://"));
        assert!(reason("mqtt://").contains("host"));
        assert!(reason("mqtt://host:0").contains("port"));
        assert!(reason("mqtt://host:abc").contains("port"));
        assert!(reason("mqtt://host/topic").contains("path"));
        assert!(reason("mqtt://u:p%zz@host").contains("percent"));
        assert!(reason("mqtt://:pw@host").contains("user"));
    }

    #[test]
    fn tcp_constructor_round_trips() {
        let addr: SocketAddr = "127.0.0.1:4242".parse().expect("addr");
        let u = MqttUrl::tcp(addr);
        assert_eq!(u, parse("mqtt://127.0.0.1:4242"));
    }
}
