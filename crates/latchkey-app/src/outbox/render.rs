//! The words of each notification, as an e-mail: a subject per kind, the notification's own
//! sentence, the few facts a person needs (which door, why) and, where there is something to
//! do, a link to the web app. Plain text and a simple HTML part with the same words.
//!
//! Secrets: a notification body holds secrets only sealed (`*_sealed_hex`), and nothing sealed
//! is copied into a message, with one exception. A guardian's request carries its link,
//! opened for that guardian only: the e-mail *is* the way the link reaches them, and the link
//! is useless to anyone else (it works once, for 30 minutes, for the guardian signed in as
//! themselves). A new PIN after a forced entry never travels by e-mail: the message sends its
//! owner to the web app, where the holder reveals a PIN once (docs/ARCHITECTURE.md, decision 49).

use latchkey_store::outbox::Delivery;
use latchkey_store::records::Person;

use crate::lockout::guardian_link_aad;
use crate::secrets::Keys;

/// One e-mail, ready for a relay.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Email {
    /// The delivery it carries: the same on every attempt.
    pub delivery_id: i64,
    /// `<delivery-ID@latchkey>`-style id, the same on every attempt, so a receiver can drop
    /// a duplicate.
    pub message_id: String,
    pub to: String,
    pub to_name: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

pub(crate) fn subject(kind: &str) -> &'static str {
    match kind {
        "lockout.opened" => "Someone says they are locked out of your home",
        "lockout.guardian_request" => "Please confirm who is locked out",
        "lockout.guardian_denied" => "A household member did not confirm a lockout",
        "lockout.proven" => "A lockout was confirmed",
        "lockout.cancelled" => "A lockout case was cancelled",
        "lockout.staff_opening" => "Building staff opened your door for a lockout",
        "lockout.new_pin" | "lockout.spare_pin" => "A PIN was issued in a lockout case",
        k if k.starts_with("lockout.") => "News about a lockout at your home",
        "credential.rotated" => "Your PIN was replaced after a forced entry",
        "credential.frozen" => "One of your PINs was paused",
        "door.compromised" => "Your door was forced",
        "door.repair_needed" => "A door needs repair",
        "door.mode_changed" => "Your door's mode was changed",
        "entry_notice.created" => "Building staff will visit your home",
        "entry_notice.cancelled" => "A visit by building staff was cancelled",
        "entry_notice.opened" => "Building staff opened your door",
        "lock.emergency_command" => "Building staff sent an emergency command to your door",
        "lock.unexpected_opening" => "Your door was opened unexpectedly",
        "email_changed" => "Your e-mail address was changed",
        "privacy.erasure_requested" => "Someone asked to have their data erased",
        "alarm.security" => "Security alarm at your building",
        "alarm.digest" => "Alarms at your building",
        _ => "News from your building",
    }
}

/// An alarm digest's subject counts what it tells ("Alarms at Linden House: 312 offline").
fn alarm_subject(d: &Delivery) -> Option<&str> {
    if !d.kind.starts_with("alarm.") {
        return None;
    }
    d.body.get("subject")?.as_str()
}

/// The notification's own sentence (`text`, at the top or under `detail`).
pub(crate) fn sentence(body: &serde_json::Value) -> Option<&str> {
    body.get("text")
        .or_else(|| body.get("detail").and_then(|d| d.get("text")))
        .and_then(|t| t.as_str())
}

/// Facts worth a line, under names a person understands. Only plain fields: never a sealed
/// value, a token, a digest or a PIN.
fn facts(body: &serde_json::Value) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    for (key, label) in [
        ("door_name", "Door"),
        ("door", "Door"),
        ("purpose", "Purpose"),
        ("reason", "Reason"),
        ("how", "How"),
    ] {
        let v = body
            .get(key)
            .or_else(|| body.get("detail").and_then(|d| d.get(key)));
        if let Some(serde_json::Value::String(s)) = v
            && !s.is_empty()
            && !out.iter().any(|(l, _)| *l == label)
        {
            out.push((label, s.chars().take(200).collect()));
        }
    }
    out
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The link a message carries, and what it says, for the kinds that have one.
fn action(d: &Delivery, keys: &Keys, web_url: &str) -> Option<(&'static str, String)> {
    let web = web_url.trim_end_matches('/');
    match d.kind.as_str() {
        "lockout.guardian_request" => {
            let sealed = d.body.get("link_sealed_hex")?.as_str()?;
            let token = keys
                .open_bytes(&guardian_link_aad(d.person_id), &hex::decode(sealed).ok()?)
                .ok()?;
            let token = String::from_utf8(token).ok()?;
            Some((
                "Answer (sign in as yourself; the link works once, for 30 minutes)",
                format!("{web}/guardian?t={token}"),
            ))
        }
        "credential.rotated" => Some((
            "Sign in to see your new PIN (it is shown once, to you only)",
            format!("{web}/"),
        )),
        _ => None,
    }
}

/// The e-mail for delivery `d` to `person` (who has an address: the caller checked).
pub fn email(d: &Delivery, person: &Person, keys: &Keys, web_url: &str, host: &str) -> Email {
    let subject = alarm_subject(d).unwrap_or_else(|| subject(&d.kind));
    let mut text = format!("Hello {},\n\n", person.name);
    let mut html = format!("<p>Hello {},</p>\n", escape(&person.name));
    let line = sentence(&d.body).unwrap_or(subject);
    text.push_str(line);
    text.push_str("\n\n");
    html.push_str(&format!(
        "<p>{}</p>\n",
        escape(line).replace('\n', "<br>\n")
    ));
    let facts = facts(&d.body);
    if !facts.is_empty() {
        html.push_str("<ul>\n");
        for (label, value) in &facts {
            text.push_str(&format!("{label}: {value}\n"));
            html.push_str(&format!("<li>{label}: {}</li>\n", escape(value)));
        }
        text.push('\n');
        html.push_str("</ul>\n");
    }
    if let Some((what, link)) = action(d, keys, web_url) {
        text.push_str(&format!("{what}:\n{link}\n\n"));
        html.push_str(&format!(
            "<p><a href=\"{}\">{}</a></p>\n",
            escape(&link),
            escape(what)
        ));
    }
    let footer = format!(
        "latchkey sent this to {} because of your place in the building. Message {}.",
        person.email.as_deref().unwrap_or(""),
        d.id
    );
    text.push_str("-- \n");
    text.push_str(&footer);
    text.push('\n');
    html.push_str(&format!("<p><small>{}</small></p>\n", escape(&footer)));
    Email {
        delivery_id: d.id,
        message_id: format!(
            "<delivery-{}.notification-{}@{host}>",
            d.id, d.notification_id
        ),
        to: person.email.clone().unwrap_or_default(),
        to_name: person.name.clone(),
        subject: subject.to_owned(),
        text,
        html,
    }
}
