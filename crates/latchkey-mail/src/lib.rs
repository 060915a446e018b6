//! latchkey's e-mail channel: [`Smtp`] implements the outbox's [`Mailer`] port over SMTP with
//! lettre (rustls with the ring provider; no OpenSSL, no aws-lc). STARTTLS (port 587),
//! implicit TLS (465) or plain (a relay on the same host), with or without authentication.
//!
//! Depends on `latchkey-app` (for the port and the message) only; the binary wires it.

use std::time::Duration;

use latchkey_app::outbox::{Email, Mailer, SendError, Sending};
use lettre::message::header::{ContentType, MessageId};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

/// How the connection to the relay is protected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Security {
    /// Plain connection upgraded with STARTTLS, which is required (port 587).
    StartTls,
    /// TLS from the first byte (port 465).
    Tls,
    /// No TLS: only for a relay on the same host or a trusted network.
    Plain,
}

impl Security {
    /// Parses `starttls`, `tls` or `plain`.
    pub fn parse(s: &str) -> Option<Security> {
        match s {
            "starttls" => Some(Security::StartTls),
            "tls" => Some(Security::Tls),
            "plain" | "none" => Some(Security::Plain),
            _ => None,
        }
    }
}

/// Where and how to send.
#[derive(Clone)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub username: Option<String>,
    pub password: Option<String>,
    /// The sender, `latchkey <latchkey@example.org>` or a bare address.
    pub from: String,
    /// How long one attempt may take.
    pub timeout: Duration,
}

impl std::fmt::Debug for SmtpConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "****"))
            .field("from", &self.from)
            .finish()
    }
}

/// A configuration that cannot work.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("smtp from: not an address ({0})")]
    From(String),
    #[error("smtp: {0}")]
    Transport(String),
}

/// The SMTP channel.
pub struct Smtp {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl Smtp {
    /// Checks the configuration and builds the transport (no connection is made yet).
    ///
    /// # Errors
    /// A `from` that is not an address; a host TLS cannot be set up for.
    pub fn new(config: &SmtpConfig) -> Result<Smtp, ConfigError> {
        let from: Mailbox = config
            .from
            .parse()
            .map_err(|e: lettre::address::AddressError| ConfigError::From(e.to_string()))?;
        let builder = match config.security {
            Security::StartTls => {
                AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&config.host)
                    .map_err(|e| ConfigError::Transport(e.to_string()))?
            }
            Security::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&config.host)
                .map_err(|e| ConfigError::Transport(e.to_string()))?,
            Security::Plain => {
                AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&config.host)
            }
        };
        let mut builder = builder.port(config.port).timeout(Some(config.timeout));
        if let (Some(user), Some(password)) = (&config.username, &config.password) {
            builder = builder
                .credentials(Credentials::new(user.clone(), password.clone()))
                .authentication(vec![Mechanism::Plain, Mechanism::Login]);
        }
        Ok(Smtp {
            transport: builder.build(),
            from,
        })
    }

    fn message(&self, email: &Email) -> Result<Message, SendError> {
        let to = Mailbox::new(
            Some(email.to_name.clone()),
            email
                .to
                .parse()
                .map_err(|e| SendError::Permanent(format!("recipient address: {e}")))?,
        );
        Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(email.subject.clone())
            .header(MessageId::from(email.message_id.clone()))
            .multipart(
                MultiPart::alternative()
                    .singlepart(
                        SinglePart::builder()
                            .header(ContentType::TEXT_PLAIN)
                            .body(email.text.clone()),
                    )
                    .singlepart(
                        SinglePart::builder()
                            .header(ContentType::TEXT_HTML)
                            .body(email.html.clone()),
                    ),
            )
            .map_err(|e| SendError::Permanent(format!("message: {e}")))
    }
}

impl Mailer for Smtp {
    fn send<'a>(&'a self, email: &'a Email) -> Sending<'a> {
        Box::pin(async move {
            let message = self.message(email)?;
            match self.transport.send(message).await {
                Ok(_) => Ok(()),
                // A 5xx reply will not change by retrying; anything else (4xx, a refused
                // connection, a timeout, a TLS failure) might.
                Err(e) if e.is_permanent() => Err(SendError::Permanent(e.to_string())),
                Err(e) => Err(SendError::Transient(e.to_string())),
            }
        })
    }
}
