//! The `latchkey` binary: command line, configuration layering, wiring and graceful shutdown.
//! Everything it does goes through `latchkey-app` (and `latchkey-http` for serving); the only
//! store calls are reads of the chain head and the bench-only bulk writers.

mod bench;
mod cli;
mod commands;
mod config;
mod demo;
mod serve;
mod wiring;

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Result;
use clap::Parser;
use tracing_subscriber::EnvFilter;

use cli::{
    AdminCommand, AuditCommand, BenchCommand, Cli, Command, ConfigCommand, CredentialCommand,
    DoorCommand, PersonCommand, PropertyCommand, UnitCommand,
};
use config::Config;

fn init_logging(filter: &str) {
    let (filter, bad) = match EnvFilter::try_new(filter) {
        Ok(f) => (f, None),
        Err(e) => (EnvFilter::new("info"), Some(e)),
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    if let Some(e) = bad {
        tracing::warn!("the log filter is invalid ({e}); logging at info");
    }
}

/// Loads the layered configuration and starts logging with it, then reports its warnings.
fn configure(cli: &Cli, listen: Option<&str>) -> Result<Config> {
    let config = config::load(&cli.global, listen, &|k| std::env::var(k).ok())?;
    init_logging(&config.log);
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
    if let Command::Bench { command } = &cli.command {
        init_logging(&std::env::var("LATCHKEY_LOG").unwrap_or_else(|_| "warn".to_owned()));
        match command {
            BenchCommand::Decisions { decisions } => bench::decisions::run(*decisions).await?,
            BenchCommand::Audit { events } => bench::audit::run(*events).await?,
        }
        return Ok(ExitCode::SUCCESS);
    }
    if let Command::Serve(args) = &cli.command {
        let config = configure(&cli, args.listen.as_deref())?;
        serve::run(config, args.demo, started).await?;
        return Ok(ExitCode::SUCCESS);
    }
    let config = configure(&cli, None)?;
    let app = wiring::open_app(&config).await?;
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
                *property,
                name,
                email.as_deref(),
                *role,
                *unit,
            )
            .await?;
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
        Command::Audit { command } => match command {
            AuditCommand::Verify => commands::audit::verify(&app).await?,
            AuditCommand::Head => {
                commands::audit::head(&app).await?;
                ExitCode::SUCCESS
            }
        },
        Command::Export(args) => {
            commands::audit::export(&app, args).await?;
            ExitCode::SUCCESS
        }
        Command::Serve(_) | Command::Config { .. } | Command::Bench { .. } => {
            unreachable!("handled above")
        }
    };
    app.store().close().await;
    Ok(code)
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
