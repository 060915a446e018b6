//! The `latchkey` binary: command line, configuration layering, wiring and graceful shutdown.
//! Everything it does goes through `latchkey-app` (and `latchkey-http` for serving); the only
//! store calls are reads of the chain head and the bench-only bulk writers.

mod anchors;
mod bench;
mod broker;
mod cli;
mod cli_recovery;
mod commands;
mod config;
mod config_hass;
mod config_smtp;
mod demo;
mod history;
mod mqtt;
mod retention;
mod serve;
mod wiring;

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Result;
use clap::Parser;
use tracing_subscriber::EnvFilter;

use cli::{
    AdminCommand, AuditCommand, BenchCommand, BrokerLoginCommand, BrokerRoleArg, Cli, Command,
    ConfigCommand, CredentialCommand, DeviceCommand, DoorAction, DoorCommand, EventCommand,
    HomeAssistantCommand, OnOff, PersonCommand, PropertyCommand, SimCommand, TurnAction,
    UnitCommand, WebhookCommand,
};
use config::{Config, LogFormat, Overrides};
use latchkey_app::NoDevices;
use latchkey_app::broker_logins::BrokerRole;

fn init_logging(filter: &str, format: LogFormat) {
    let filter = config::log_filter(filter);
    let (filter, bad) = match EnvFilter::try_new(&filter) {
        Ok(f) => (f, None),
        Err(e) => (EnvFilter::new("info"), Some(e)),
    };
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => logs.with_ansi(std::io::stderr().is_terminal()).init(),
        // The event's message and fields at the top level, beside `level` and `target`.
        LogFormat::Json => logs.json().flatten_event(true).init(),
    }
    if let Some(e) = bad {
        tracing::warn!("the log filter is invalid ({e}); logging at info");
    }
}

/// Logging for the commands that read no configuration (bench, sim): `LATCHKEY_LOG` or
/// `default`, and `LATCHKEY_LOG_FORMAT` (text when unset or not understood).
fn init_logging_from_env(default: &str) {
    let format = std::env::var("LATCHKEY_LOG_FORMAT")
        .ok()
        .and_then(|f| LogFormat::parse(&f).ok())
        .unwrap_or_default();
    init_logging(
        &std::env::var("LATCHKEY_LOG").unwrap_or_else(|_| default.to_owned()),
        format,
    );
}

/// Loads the layered configuration and starts logging with it, then reports its warnings.
fn configure(cli: &Cli, overrides: &Overrides<'_>) -> Result<Config> {
    let config = config::load(&cli.global, overrides, &|k| std::env::var(k).ok())?;
    init_logging(&config.log, config.log_format);
    for w in &config.warnings {
        tracing::warn!("{w}");
    }
    Ok(config)
}

async fn run(cli: Cli, started: Instant) -> Result<ExitCode> {
    if let Command::Config {
        command: ConfigCommand::Example,
    } = &cli.command
    {
        print!("{}", config::EXAMPLE);
        return Ok(ExitCode::SUCCESS);
    }
    if let Command::Event {
        command: EventCommand::Kinds,
    } = &cli.command
    {
        print!("{}", latchkey_app::event_kinds::markdown_table());
        return Ok(ExitCode::SUCCESS);
    }
    if let Command::Bench { command } = &cli.command {
        init_logging_from_env("warn");
        match command {
            BenchCommand::Decisions { decisions } => bench::decisions::run(*decisions).await?,
            BenchCommand::Audit { events } => bench::audit::run(*events).await?,
            BenchCommand::Unlock {
                requests,
                connections,
                mqtt_url,
                postgres_url,
                replicas,
            } => {
                bench::unlock::run(
                    *requests,
                    (*connections).max(1),
                    mqtt_url.as_deref(),
                    postgres_url.as_deref(),
                    usize::from(*replicas),
                )
                .await?
            }
            BenchCommand::Revoke {
                locks,
                mqtt_url,
                protocol,
            } => bench::revoke::run(*locks, mqtt_url.as_deref(), *protocol).await?,
            BenchCommand::Drill { units } => bench::drill::run(*units).await?,
            BenchCommand::Deliveries { events, samples } => {
                bench::deliveries::run(*events, *samples).await?
            }
            BenchCommand::Pages { units, requests } => bench::pages::run(*units, *requests).await?,
            BenchCommand::Idle {
                locks,
                settle_seconds,
            } => bench::idle::run(*locks, std::time::Duration::from_secs(*settle_seconds)).await?,
            BenchCommand::Storm { locks } => bench::storm::run(*locks).await?,
        }
        return Ok(ExitCode::SUCCESS);
    }
    if let Command::Sim { command } = &cli.command {
        let default = if matches!(command, SimCommand::Run { .. }) {
            "info"
        } else {
            "warn"
        };
        init_logging_from_env(default);
        sim(command).await?;
        return Ok(ExitCode::SUCCESS);
    }
    if let Command::Serve(args) = &cli.command {
        let config = configure(
            &cli,
            &Overrides {
                listen: args.listen.as_deref(),
                mqtt_listen: args.mqtt_listen.as_deref(),
                mqtt_url: args.mqtt_url.as_deref(),
                audit_anchor_file: args.audit_anchor_file.as_deref(),
            },
        )?;
        let mode = serve::ServeMode {
            demo: args.demo,
            no_mqtt: args.no_mqtt,
        };
        serve::run(config, mode, started).await?;
        return Ok(ExitCode::SUCCESS);
    }
    let config = configure(&cli, &Overrides::default())?;
    let app = wiring::open_app(&config, std::sync::Arc::new(NoDevices)).await?;
    let code = match &cli.command {
        Command::Admin {
            command:
                AdminCommand::Create {
                    name,
                    email,
                    password_file,
                },
        } => {
            commands::admin::create(&app, name, email, password_file.as_deref()).await?;
            ExitCode::SUCCESS
        }
        Command::BrokerLogin { command } => {
            match command {
                BrokerLoginCommand::Create { name, role, acting } => {
                    let role = match role {
                        BrokerRoleArg::Gateway => BrokerRole::Gateway,
                        BrokerRoleArg::Observer => BrokerRole::Observer,
                        BrokerRoleArg::HomeAssistant => BrokerRole::HomeAssistant,
                    };
                    commands::broker_login::create(
                        &app,
                        &config,
                        acting.as_email.as_deref(),
                        name,
                        role,
                    )
                    .await?;
                }
                BrokerLoginCommand::Rotate { name, acting } => {
                    commands::broker_login::rotate(&app, &config, acting.as_email.as_deref(), name)
                        .await?;
                }
                BrokerLoginCommand::Revoke { name, acting } => {
                    commands::broker_login::revoke(&app, acting.as_email.as_deref(), name).await?;
                }
                BrokerLoginCommand::List { acting } => {
                    commands::broker_login::list(&app, acting.as_email.as_deref()).await?;
                }
            }
            ExitCode::SUCCESS
        }
        Command::HomeAssistant {
            command:
                HomeAssistantCommand::Account {
                    property,
                    unit,
                    doors,
                    name,
                    token_file,
                    acting,
                },
        } => {
            commands::home_assistant::account(
                &app,
                acting.as_email.as_deref(),
                commands::home_assistant::AccountArgs {
                    property: *property,
                    unit: *unit,
                    doors,
                    name,
                    token_file: token_file.as_deref(),
                },
            )
            .await?;
            ExitCode::SUCCESS
        }
        Command::Webhook { command } => {
            match command {
                WebhookCommand::Create {
                    property,
                    url,
                    kinds,
                    description,
                    acting,
                } => {
                    commands::webhook::create(
                        &app,
                        acting.as_email.as_deref(),
                        *property,
                        url,
                        kinds,
                        description,
                    )
                    .await?;
                }
                WebhookCommand::List { property, acting } => {
                    commands::webhook::list(&app, acting.as_email.as_deref(), *property).await?;
                }
                WebhookCommand::Update {
                    id,
                    kinds,
                    description,
                    enable,
                    disable,
                    acting,
                } => {
                    let change = latchkey_app::webhooks::EndpointChange {
                        kinds: (!kinds.is_empty()).then(|| kinds.clone()),
                        description: description.clone(),
                        enabled: match (enable, disable) {
                            (true, _) => Some(true),
                            (_, true) => Some(false),
                            _ => None,
                        },
                    };
                    commands::webhook::update(&app, acting.as_email.as_deref(), *id, change)
                        .await?;
                }
                WebhookCommand::RotateSecret { id, acting } => {
                    commands::webhook::rotate(&app, acting.as_email.as_deref(), *id).await?;
                }
                WebhookCommand::Delete { id, acting } => {
                    commands::webhook::delete(&app, acting.as_email.as_deref(), *id).await?;
                }
                WebhookCommand::Kinds => commands::webhook::kinds(),
            }
            ExitCode::SUCCESS
        }
        Command::Property { command } => {
            match command {
                PropertyCommand::Create {
                    name,
                    timezone,
                    address,
                    acting,
                } => {
                    commands::directory::create_property(
                        &app,
                        acting.as_email.as_deref(),
                        name,
                        timezone,
                        address,
                    )
                    .await?;
                }
                PropertyCommand::List { acting } => {
                    commands::directory::list_properties(&app, acting.as_email.as_deref()).await?;
                }
            }
            ExitCode::SUCCESS
        }
        Command::Unit {
            command:
                UnitCommand::Create {
                    property,
                    label,
                    floor,
                    acting,
                },
        } => {
            commands::directory::create_unit(
                &app,
                acting.as_email.as_deref(),
                *property,
                label,
                *floor,
            )
            .await?;
            ExitCode::SUCCESS
        }
        Command::Door {
            command:
                DoorCommand::Create {
                    property,
                    name,
                    kind,
                    unit,
                    acting,
                },
        } => {
            commands::directory::create_door(
                &app,
                acting.as_email.as_deref(),
                *property,
                name,
                *kind,
                *unit,
            )
            .await?;
            ExitCode::SUCCESS
        }
        Command::Person {
            command:
                PersonCommand::Add {
                    property,
                    name,
                    email,
                    role,
                    unit,
                    acting,
                },
        } => {
            commands::people::add_person(
                &app,
                acting.as_email.as_deref(),
                commands::people::NewPersonArgs {
                    property: *property,
                    name,
                    email: email.as_deref(),
                    role: *role,
                    unit: *unit,
                },
                &config.link_base(),
            )
            .await?;
            ExitCode::SUCCESS
        }
        Command::Person {
            command: PersonCommand::Invite { person, acting },
        } => {
            commands::people::invite(
                &app,
                acting.as_email.as_deref(),
                *person,
                &config.link_base(),
            )
            .await?;
            ExitCode::SUCCESS
        }
        Command::Person {
            command: PersonCommand::Uninvite { person, acting },
        } => {
            commands::people::uninvite(&app, acting.as_email.as_deref(), *person).await?;
            ExitCode::SUCCESS
        }
        Command::Credential {
            command:
                CredentialCommand::Add {
                    property,
                    person,
                    kind,
                    unit,
                    pin,
                    card_uid,
                    acting,
                },
        } => {
            commands::people::add_credential(
                &app,
                acting.as_email.as_deref(),
                commands::people::NewCredentialArgs {
                    property: *property,
                    person: *person,
                    kind: *kind,
                    unit: *unit,
                    pin: pin.as_deref(),
                    card_uid: card_uid.as_deref(),
                },
            )
            .await?;
            ExitCode::SUCCESS
        }
        Command::Credential {
            command:
                CredentialCommand::List {
                    property,
                    person,
                    unit,
                    acting,
                },
        } => {
            commands::credentials::list(
                &app,
                acting.as_email.as_deref(),
                commands::credentials::ListFilter {
                    property: *property,
                    person: *person,
                    unit: *unit,
                },
            )
            .await?;
            ExitCode::SUCCESS
        }
        Command::Credential {
            command: CredentialCommand::Revoke { credential, acting },
        } => {
            commands::credentials::revoke(&app, acting.as_email.as_deref(), *credential).await?;
            ExitCode::SUCCESS
        }
        Command::Credential {
            command: CredentialCommand::Status { credential, acting },
        } => {
            commands::devices::credential_status(&app, acting.as_email.as_deref(), *credential)
                .await?;
            ExitCode::SUCCESS
        }
        Command::Device { command } => {
            match command {
                DeviceCommand::List { acting } => {
                    commands::devices::list(&app, acting.as_email.as_deref()).await?;
                }
                DeviceCommand::Pair {
                    target,
                    device,
                    acting,
                } => {
                    commands::devices::pair(
                        &app,
                        acting.as_email.as_deref(),
                        *target,
                        Some(device),
                    )
                    .await?;
                }
                DeviceCommand::Unpair { target, acting } => {
                    commands::devices::pair(&app, acting.as_email.as_deref(), *target, None)
                        .await?;
                }
            }
            ExitCode::SUCCESS
        }
        Command::Restore { command } => {
            commands::restore::run(&app, command).await?;
            ExitCode::SUCCESS
        }
        Command::Audit { command } => match command {
            AuditCommand::Verify { anchor } => {
                commands::audit::verify(&app, anchor.as_deref()).await?
            }
            AuditCommand::Head => {
                commands::audit::head(&app).await?;
                ExitCode::SUCCESS
            }
            AuditCommand::Retention => {
                commands::audit::retention(&app).await?;
                ExitCode::SUCCESS
            }
        },
        Command::Export(args) => {
            commands::audit::export(&app, args).await?;
            ExitCode::SUCCESS
        }
        Command::Lockout { command } => {
            commands::recovery::lockout(&app, command).await?;
            ExitCode::SUCCESS
        }
        Command::Import(args) => commands::import::run(&app, args, &config.link_base()).await?,
        Command::Drill(args) => {
            commands::recovery::drill(&app, args).await?;
            ExitCode::SUCCESS
        }
        Command::SpareKey { command } => {
            commands::recovery::spare_key(&app, command).await?;
            ExitCode::SUCCESS
        }
        Command::OnCall { command } => {
            commands::recovery::on_call(&app, command).await?;
            ExitCode::SUCCESS
        }
        Command::Ledger(args) => {
            commands::resolution::ledger(&app, args).await?;
            ExitCode::SUCCESS
        }
        Command::Incident { command } => {
            commands::resolution::incident(&app, command).await?;
            ExitCode::SUCCESS
        }
        Command::Locksmith { command } => {
            commands::recovery::locksmith(&app, command).await?;
            ExitCode::SUCCESS
        }
        Command::Serve(_)
        | Command::Config { .. }
        | Command::Event { .. }
        | Command::Bench { .. }
        | Command::Sim { .. } => {
            unreachable!("handled above")
        }
    };
    app.close().await;
    Ok(code)
}

/// `latchkey sim …`: needs a broker, no data directory.
async fn sim(command: &SimCommand) -> Result<()> {
    use commands::sim::{FleetArgs, control};
    match command {
        SimCommand::Run {
            broker,
            locks,
            prefix,
            names,
            sensors,
            actuation_ms,
            qos,
            state_file,
            legacy_availability,
        } => {
            commands::sim::run(
                broker,
                FleetArgs {
                    locks: *locks,
                    prefix: prefix.clone(),
                    names: names.clone(),
                    sensors: sensors.clone(),
                    actuation: std::time::Duration::from_millis(*actuation_ms),
                    qos: *qos,
                    state_file: state_file.clone(),
                    legacy_availability: *legacy_availability,
                },
            )
            .await
        }
        SimCommand::Zwave {
            broker,
            prefix,
            gateway_name,
            locks,
            slots,
            masked,
        } => {
            commands::sim::zwave(
                broker,
                commands::sim::ZwaveArgs {
                    prefix: prefix.clone(),
                    gateway_name: gateway_name.clone(),
                    locks: *locks,
                    slots: *slots,
                    masked: *masked,
                },
            )
            .await
        }
        SimCommand::Keypad { broker, lock, pin } => control(broker, lock, "keypad", pin).await,
        SimCommand::Door {
            broker,
            lock,
            action,
        } => {
            let payload = match action {
                DoorAction::Open => "open",
                DoorAction::Close => "close",
            };
            control(broker, lock, "door", payload).await
        }
        SimCommand::Turn {
            broker,
            lock,
            action,
        } => {
            let payload = match action {
                TurnAction::Lock => "lock",
                TurnAction::Unlock => "unlock",
            };
            control(broker, lock, "manual", payload).await
        }
        SimCommand::Force { broker, lock } => control(broker, lock, "force", "").await,
        SimCommand::Jam {
            broker,
            lock,
            state,
        } => {
            let payload = match state {
                OnOff::On => "on",
                OnOff::Off => "off",
            };
            control(broker, lock, "jam", payload).await
        }
        SimCommand::Battery {
            broker,
            lock,
            percent,
        } => control(broker, lock, "battery", &percent.to_string()).await,
        SimCommand::Offline { broker, lock } => control(broker, lock, "offline", "").await,
        SimCommand::Online { broker, lock } => control(broker, lock, "online", "").await,
        SimCommand::Churn {
            broker,
            locks,
            prefix,
            per_second,
            rounds,
        } => commands::sim::churn(broker, prefix, *locks, *per_second, *rounds).await,
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let started = Instant::now();
    // Usage errors exit with 2 (clap's convention); --help and --version with 0.
    let cli = Cli::parse();
    match run(cli, started).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}
