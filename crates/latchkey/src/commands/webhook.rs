//! `latchkey webhook …`: webhook endpoints of a property (docs/OPERATIONS.md, "Webhooks").

use anyhow::Result;
use latchkey_app::App;
use latchkey_app::webhooks::{EndpointChange, EndpointInput, WebhookEndpoint, WithSecret};
use latchkey_core::PropertyId;

use crate::wiring::{acting_as, app_err};

fn line(e: &WebhookEndpoint) -> String {
    format!(
        "{}\t{}\t{}\t{}{}",
        e.id,
        if e.enabled { "enabled" } else { "disabled" },
        e.url,
        e.kinds.join(","),
        e.disabled_reason
            .as_ref()
            .map(|r| format!("\t({r})"))
            .unwrap_or_default()
    )
}

fn print_secret(w: &WithSecret) {
    println!(
        "{}\nsecret: {}\n(shown only now; a receiver checks each request's webhook-signature \
         with it)",
        line(&w.endpoint),
        w.secret
    );
}

/// # Errors
/// Not staff of the property, a bad URL or kind, or storage failure.
pub async fn create(
    app: &App,
    acting: Option<&str>,
    property: i64,
    url: &str,
    kinds: &[String],
    description: &str,
) -> Result<()> {
    let who = acting_as(app, acting).await?;
    let cap = who.webhook_manager(PropertyId(property)).map_err(app_err)?;
    let made = app
        .create_webhook(
            cap,
            EndpointInput {
                url: url.to_owned(),
                description: description.to_owned(),
                kinds: kinds.to_vec(),
            },
        )
        .await
        .map_err(app_err)?;
    print_secret(&made);
    Ok(())
}

/// # Errors
/// Not staff of the property, or storage failure.
pub async fn list(app: &App, acting: Option<&str>, property: i64) -> Result<()> {
    let who = acting_as(app, acting).await?;
    let cap = who.webhook_manager(PropertyId(property)).map_err(app_err)?;
    let all = app.webhooks(cap).await.map_err(app_err)?;
    if all.is_empty() {
        println!("no webhook endpoints at property {property}");
    }
    for e in &all {
        println!("{}", line(e));
    }
    Ok(())
}

/// # Errors
/// Not staff of its property, no such endpoint, a bad kind, or storage failure.
pub async fn update(
    app: &App,
    acting: Option<&str>,
    id: i64,
    change: EndpointChange,
) -> Result<()> {
    let who = acting_as(app, acting).await?;
    let cap = app.may_change_webhook(&who, id).await.map_err(app_err)?;
    let e = app.update_webhook(cap, change).await.map_err(app_err)?;
    println!("{}", line(&e));
    Ok(())
}

/// # Errors
/// Not staff of its property, no such endpoint, or storage failure.
pub async fn rotate(app: &App, acting: Option<&str>, id: i64) -> Result<()> {
    let who = acting_as(app, acting).await?;
    let cap = app.may_change_webhook(&who, id).await.map_err(app_err)?;
    let made = app.rotate_webhook_secret(cap).await.map_err(app_err)?;
    print_secret(&made);
    if let Some(until) = made.endpoint.previous_secret_until {
        println!("the previous secret also signs every request until {until}");
    }
    Ok(())
}

/// # Errors
/// Not staff of its property, no such endpoint, or storage failure.
pub async fn delete(app: &App, acting: Option<&str>, id: i64) -> Result<()> {
    let who = acting_as(app, acting).await?;
    let cap = app.may_change_webhook(&who, id).await.map_err(app_err)?;
    app.delete_webhook(cap).await.map_err(app_err)?;
    println!("deleted webhook endpoint {id} and what it had not been sent");
    Ok(())
}

/// Prints the kinds an endpoint may receive.
pub fn kinds() {
    for k in latchkey_app::authz::webhook_kinds() {
        println!(
            "{k}\t{}",
            latchkey_app::event_kinds::meaning(k).unwrap_or_default()
        );
    }
}
