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
        // `mqtt://::1:1883` is an IPv6 address without its brackets, not a bad port.
        let authority = input.split_once("://").map_or("", |(_, rest)| {
            let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
            rest[..end].rsplit('@').next().unwrap_or_default()
        });
        let unbracketed_ipv6 = !authority.starts_with('[') && authority.matches(':').count() > 1;
        let url = url::Url::parse(input).map_err(|e| {
            fail(match e {
                _ if unbracketed_ipv6 => "write an IPv6 host in brackets: mqtt://[::1]:1883",
                url::ParseError::RelativeUrlWithoutBase => {
                    "expected mqtt://HOST[:PORT] or mqtts://HOST[:PORT]"
                }
                url::ParseError::InvalidPort => "the port must be a number from 1 to 65535",
                url::ParseError::EmptyHost => "the host is missing",
                url::ParseError::InvalidIpv6Address => {
                    "an IPv6 host needs a closing bracket: [::1]:1883"
                }
                _ => "the host contains characters that are not allowed",
            })
        })?;
        let tls = match url.scheme() {
            "mqtt" => false,
            "mqtts" => true,
            _ if input.contains("://") => {
                return Err(fail("the scheme must be mqtt:// (plain) or mqtts:// (TLS)"));
            }
            _ => return Err(fail("expected mqtt://HOST[:PORT] or mqtts://HOST[:PORT]")),
        };
        if !matches!(url.path(), "" | "/") || url.query().is_some() || url.fragment().is_some() {
            return Err(fail("an MQTT URL has no path, query or fragment"));
        }
        let host = match url.host() {
            Some(url::Host::Ipv4(ip)) => ip.to_string(),
            Some(url::Host::Ipv6(ip)) => ip.to_string(),
            Some(url::Host::Domain(name)) if name.contains(':') => {
                return Err(fail("write an IPv6 host in brackets: mqtt://[::1]:1883"));
            }
            Some(url::Host::Domain(name)) if !name.is_empty() && !name.contains('%') => {
                name.to_owned()
            }
            Some(url::Host::Domain(name)) if !name.is_empty() => {
                return Err(fail("the host contains characters that are not allowed"));
            }
            _ => return Err(fail("the host is missing")),
        };
        let port = match url.port() {
            Some(0) => return Err(fail("the port must be a number from 1 to 65535")),
            Some(p) => p,
            None if tls => DEFAULT_TLS_PORT,
            None => DEFAULT_PORT,
        };
        let username = decoded(url.username())
            .ok_or_else(|| fail("the user name has bad percent-encoding"))?;
        let password = url
            .password()
            .map(|p| decoded(p).ok_or_else(|| fail("the password has bad percent-encoding")))
            .transpose()?;
        let username = match (username.is_empty(), &password) {
            (true, Some(_)) => return Err(fail("a password needs a user name")),
            (true, None) => None,
            (false, _) => Some(username),
        };
        Ok(Self {
            tls,
            host,
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

    /// The same URL with a user name and password.
    #[must_use]
    pub fn with_login(mut self, username: &str, password: &str) -> Self {
        self.username = Some(username.to_owned());
        self.password = Some(password.to_owned());
        self
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

/// Percent-decodes a user name or password as UTF-8. `None` for a `%` not followed by two hex
/// digits (the URL parser keeps those as they are) or for bytes that are not UTF-8.
fn decoded(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let well_formed = bytes.iter().enumerate().all(|(i, b)| {
        *b != b'%'
            || bytes
                .get(i + 1..i + 3)
                .is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit))
    });
    if !well_formed {
        return None;
    }
    percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .ok()
        .map(|d| d.into_owned())
}

/// The URL with its password hidden, for error messages. Text that does not parse as a URL is
/// shown only when it cannot hold a password.
fn redact(input: &str) -> String {
    match url::Url::parse(input) {
        Ok(mut url) => {
            if url.password().is_some() {
                // Only URLs that cannot have a password refuse one, and this one has one.
                let _ = url.set_password(Some("***"));
            }
            url.to_string()
        }
        Err(_) if input.contains('@') => "(not shown: it may contain a password)".to_owned(),
        Err(_) => input.to_owned(),
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
