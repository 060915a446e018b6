//! The command line, as clap types. Parsing only; `main` dispatches.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use latchkey_core::model::{CredentialKind, DoorKind, Role};

const ENV_HELP: &str = "\
Configuration is layered: built-in defaults, then latchkey.toml (in the working directory, or \
--config FILE), then the environment, then flags. Environment variables:
  LATCHKEY_LISTEN                 address to serve on (default 127.0.0.1:8080)
  LATCHKEY_DATA_DIR               data directory (default ./latchkey-data)
  LATCHKEY_DATABASE_URL[_FILE]    sqlite://PATH or postgres://… (default: SQLite in the data dir)
  LATCHKEY_MASTER_KEY[_FILE]      64 hex digits (default: DATA_DIR/master.key, created once)
  LATCHKEY_LOG                    log filter, e.g. info or latchkey=debug (default info)
  LATCHKEY_ADMIN_PASSWORD         password for `admin create` (else --password-file or stdin)
  LATCHKEY_MQTT_LISTEN            embedded MQTT broker address (default 127.0.0.1:1883)
  LATCHKEY_MQTT_URL[_FILE]        external broker mqtt://USER:PASS@HOST:PORT or mqtts://…
  LATCHKEY_MQTT_BASE_TOPIC        Zigbee2MQTT base topic (default zigbee2mqtt)
  LATCHKEY_REPLICA_ID             this replica's stable name (default: the host name)
  LATCHKEY_AUDIT_ANCHOR_FILE      where serve appends signed audit heads (outside the data dir)
`latchkey config example` prints a commented configuration file.";

/// latchkey: a self-hosted access server for smart locks in homes and apartment buildings.
#[derive(Debug, Parser)]
#[command(name = "latchkey", version, after_help = ENV_HELP)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Where the data lives; accepted by every command.
#[derive(Debug, Args, Clone, Default)]
pub struct GlobalArgs {
    /// Configuration file (default: ./latchkey.toml when it exists).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Data directory holding the SQLite database and the master key.
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Database URL: sqlite://PATH or postgres://USER:PASSWORD@HOST/DB.
    #[arg(long, global = true, value_name = "URL")]
    pub database_url: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the web app and the API.
    Serve(ServeArgs),
    /// Create the first (or another) admin: an installer with rights over every property.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Logins of the embedded MQTT broker: one per Zigbee2MQTT gateway (required whenever
    /// the broker listens beyond loopback).
    BrokerLogin {
        #[command(subcommand)]
        command: BrokerLoginCommand,
    },
    /// Home Assistant: the service account its commands act as.
    HomeAssistant {
        #[command(subcommand)]
        command: HomeAssistantCommand,
    },
    /// Webhook endpoints of a property: signed POSTs of its door, lock and sensor events.
    Webhook {
        #[command(subcommand)]
        command: WebhookCommand,
    },
    /// Create and list properties.
    Property {
        #[command(subcommand)]
        command: PropertyCommand,
    },
    /// Create units (apartments).
    Unit {
        #[command(subcommand)]
        command: UnitCommand,
    },
    /// Create doors.
    Door {
        #[command(subcommand)]
        command: DoorCommand,
    },
    /// Add people with a role at a property or unit.
    Person {
        #[command(subcommand)]
        command: PersonCommand,
    },
    /// Import a building's units, entry doors and residents from a CSV file (checked first,
    /// every wrong line listed; nothing is written unless every line is good).
    Import(crate::commands::import::ImportArgs),
    /// Issue credentials (PINs, phone keys, cards, physical-key records).
    Credential {
        #[command(subcommand)]
        command: CredentialCommand,
    },
    /// Check the hash-chained event log.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Export the event log, newest first.
    Export(ExportArgs),
    /// What the event log's kinds mean.
    Event {
        #[command(subcommand)]
        command: EventCommand,
    },
    /// Configuration helpers.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Measure latchkey's performance targets on this machine.
    Bench {
        #[command(subcommand)]
        command: BenchCommand,
    },
    /// Zigbee2MQTT devices: list them, pair locks with doors and sensors with devices.
    Device {
        #[command(subcommand)]
        command: DeviceCommand,
    },
    /// After a restored backup: the restored state, and the codes found on locks that latchkey
    /// does not know (adopt or remove each, then end the state). See docs/OPERATIONS.md.
    Restore {
        #[command(subcommand)]
        command: RestoreCommand,
    },
    /// Virtual Zigbee2MQTT locks and sensors on a broker, and their keypads and doors.
    Sim {
        #[command(subcommand)]
        command: SimCommand,
    },
    /// Lockout cases: open one for a caller, follow it, cancel it.
    Lockout {
        #[command(subcommand)]
        command: crate::cli_recovery::LockoutCommand,
    },
    /// The readiness drill: every resident's ways back in, hour by hour, and the gaps to fix.
    Drill(crate::cli_recovery::DrillArgs),
    /// Digital spare keys: dormant until a lockout case is proven.
    SpareKey {
        #[command(subcommand)]
        command: crate::cli_recovery::SpareKeyCommand,
    },
    /// The after-hours on-call roster.
    OnCall {
        #[command(subcommand)]
        command: crate::cli_recovery::OnCallCommand,
    },
    /// Locksmith companies the property works with.
    Locksmith {
        #[command(subcommand)]
        command: crate::cli_recovery::LocksmithCommand,
    },
    /// The lockout ledger: every charge with its case, as a table or CSV.
    Ledger(crate::cli_recovery::LedgerArgs),
    /// Doors marked for service or compromised.
    Incident {
        #[command(subcommand)]
        command: crate::cli_recovery::IncidentCommand,
    },
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on, e.g. 0.0.0.0:8080 (port 0 picks a free port).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// Also create the demo building "Linden Court" (once) with virtual locks, and print its
    /// sign-ins.
    #[arg(long)]
    pub demo: bool,
    /// Address of the embedded MQTT broker, where Zigbee2MQTT connects (default
    /// 127.0.0.1:1883; port 0 picks a free port).
    #[arg(long, value_name = "ADDR")]
    pub mqtt_listen: Option<String>,
    /// Use this MQTT 5 broker instead of the embedded one: mqtt://USER:PASS@HOST:PORT or
    /// mqtts://… (prefer LATCHKEY_MQTT_URL_FILE for the password).
    #[arg(long, value_name = "URL")]
    pub mqtt_url: Option<String>,
    /// Run without any MQTT broker: the web app and API only, no lock commands.
    #[arg(long, conflicts_with_all = ["mqtt_listen", "mqtt_url"])]
    pub no_mqtt: bool,
    /// Append a signed anchor of the audit chain's head to FILE at start, every minute while
    /// the log grows, and at shutdown (must be outside the data directory).
    #[arg(long, value_name = "FILE")]
    pub audit_anchor_file: Option<PathBuf>,
}

/// Who a terminal command acts as.
#[derive(Debug, Args, Clone, Default)]
pub struct ActingAs {
    /// E-mail address of the admin to act as (default: the first admin).
    #[arg(long = "as", value_name = "EMAIL")]
    pub as_email: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum BrokerLoginCommand {
    /// Create a login and print Zigbee2MQTT's `mqtt:` settings (the password is shown once).
    Create {
        /// The MQTT user name, e.g. the gateway's place: `hall-stick`.
        name: String,
        /// gateway: Zigbee2MQTT (publishes device state, never a command); observer: reads
        /// device state only, never a command or the PINs in one; home-assistant: reads
        /// discovery and latchkey's state, publishes only door commands (authorised by
        /// latchkey as its service account's).
        #[arg(long, value_enum, default_value = "gateway")]
        role: BrokerRoleArg,
        #[command(flatten)]
        acting: ActingAs,
    },
    /// Give a login a new password (shown once); the old one stops connecting.
    Rotate {
        name: String,
        #[command(flatten)]
        acting: ActingAs,
    },
    /// Delete a login: it can no longer connect.
    Revoke {
        name: String,
        #[command(flatten)]
        acting: ActingAs,
    },
    /// List the logins (never their passwords).
    List {
        #[command(flatten)]
        acting: ActingAs,
    },
}

#[derive(Debug, Subcommand)]
pub enum HomeAssistantCommand {
    /// Create Home Assistant's service account: a guest of one unit (no e-mail, no password)
    /// holding a phone key for the doors Home Assistant may lock and unlock, and its API token
    /// (written to --token-file, or shown once).
    Account {
        #[arg(long)]
        property: i64,
        #[arg(long)]
        unit: i64,
        /// A door Home Assistant may lock and unlock (repeat it); default: the unit's doors.
        #[arg(long = "door", value_name = "DOOR_ID")]
        doors: Vec<i64>,
        /// The account's name, as the household and the log show it.
        #[arg(long, default_value = "Home Assistant")]
        name: String,
        /// Write the token to this new file (mode 0600) instead of printing it.
        #[arg(long, value_name = "FILE")]
        token_file: Option<PathBuf>,
        #[command(flatten)]
        acting: ActingAs,
    },
}

#[derive(Debug, Subcommand)]
pub enum WebhookCommand {
    /// Create an endpoint; its secret is shown once.
    Create {
        #[arg(long)]
        property: i64,
        /// `https://…` (or `http://` on a trusted network).
        #[arg(long)]
        url: String,
        /// An event kind to send (repeat; `latchkey webhook kinds` lists them).
        #[arg(long = "kind", required = true)]
        kinds: Vec<String>,
        #[arg(long, default_value = "")]
        description: String,
        #[command(flatten)]
        acting: ActingAs,
    },
    /// List a property's endpoints.
    List {
        #[arg(long)]
        property: i64,
        #[command(flatten)]
        acting: ActingAs,
    },
    /// Change an endpoint's kinds or description, or enable or disable it.
    Update {
        id: i64,
        /// Replaces the kinds (repeat).
        #[arg(long = "kind")]
        kinds: Vec<String>,
        #[arg(long)]
        description: Option<String>,
        #[arg(long, conflicts_with = "disable")]
        enable: bool,
        #[arg(long)]
        disable: bool,
        #[command(flatten)]
        acting: ActingAs,
    },
    /// Give an endpoint a new secret (shown once); the old one signs beside it for 24 hours.
    RotateSecret {
        id: i64,
        #[command(flatten)]
        acting: ActingAs,
    },
    /// Delete an endpoint and what it had not been sent.
    Delete {
        id: i64,
        #[command(flatten)]
        acting: ActingAs,
    },
    /// The event kinds an endpoint may receive.
    Kinds,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum BrokerRoleArg {
    Gateway,
    Observer,
    /// Home Assistant: reads discovery and latchkey's state, publishes only door commands.
    HomeAssistant,
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create an admin. The password comes from --password-file, LATCHKEY_ADMIN_PASSWORD, or
    /// one line of standard input.
    Create {
        #[arg(long)]
        name: String,
        #[arg(long)]
        email: String,
        /// File whose first line is the password.
        #[arg(long, value_name = "FILE")]
        password_file: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum PropertyCommand {
    /// Create a property (a building or a house).
    Create {
        #[arg(long)]
        name: String,
        /// IANA time zone, e.g. Europe/Berlin.
        #[arg(long)]
        timezone: String,
        #[arg(long, default_value = "")]
        address: String,
        #[command(flatten)]
        acting: ActingAs,
    },
    /// List properties.
    List {
        #[command(flatten)]
        acting: ActingAs,
    },
}

#[derive(Debug, Subcommand)]
pub enum UnitCommand {
    /// Create a unit of a property.
    Create {
        #[arg(long, value_name = "ID")]
        property: i64,
        #[arg(long)]
        label: String,
        #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
        floor: i64,
        #[command(flatten)]
        acting: ActingAs,
    },
}

#[derive(Debug, Subcommand)]
pub enum DoorCommand {
    /// Create a door of a property, optionally belonging to a unit.
    Create {
        #[arg(long, value_name = "ID")]
        property: i64,
        #[arg(long)]
        name: String,
        /// unit_entry, building_entrance, amenity, garage or back_door.
        #[arg(long)]
        kind: DoorKind,
        #[arg(long, value_name = "ID")]
        unit: Option<i64>,
        #[command(flatten)]
        acting: ActingAs,
    },
}

#[derive(Debug, Subcommand)]
pub enum PersonCommand {
    /// Add a person with one role (installer, manager and locksmith are property-wide; the
    /// others need --unit).
    Add {
        #[arg(long, value_name = "ID")]
        property: i64,
        #[arg(long)]
        name: String,
        #[arg(long)]
        email: Option<String>,
        /// installer, manager, resident, household, trusted_contact, guest or locksmith.
        #[arg(long)]
        role: Role,
        #[arg(long, value_name = "ID")]
        unit: Option<i64>,
        #[command(flatten)]
        acting: ActingAs,
    },
    /// Print a new invitation link for a person who has no password yet (it revokes the one
    /// before). The link is shown once; it sets the person's password and signs them in.
    Invite {
        #[arg(long, value_name = "ID")]
        person: i64,
        #[command(flatten)]
        acting: ActingAs,
    },
    /// Withdraw a person's unused invitation link.
    Uninvite {
        #[arg(long, value_name = "ID")]
        person: i64,
        #[command(flatten)]
        acting: ActingAs,
    },
}

#[derive(Debug, Subcommand)]
pub enum CredentialCommand {
    /// List a property's credentials (never their codes), optionally one person's or one
    /// unit's.
    List {
        #[arg(long, value_name = "ID")]
        property: i64,
        #[arg(long, value_name = "ID")]
        person: Option<i64>,
        #[arg(long, value_name = "ID")]
        unit: Option<i64>,
        #[command(flatten)]
        acting: ActingAs,
    },
    /// Revoke a credential for good; a running server clears it from every lock at once.
    Revoke {
        /// The credential's id (see `credential list`).
        #[arg(value_name = "ID")]
        credential: i64,
        #[command(flatten)]
        acting: ActingAs,
    },
    /// Where a credential stands on each lock: pending, set, failed (with why), removing,
    /// removed.
    Status {
        #[arg(long, value_name = "ID")]
        credential: i64,
        #[command(flatten)]
        acting: ActingAs,
    },
    /// Issue a credential; doors default to the unit's door and door group.
    Add {
        #[arg(long, value_name = "ID")]
        property: i64,
        #[arg(long, value_name = "ID")]
        person: i64,
        /// pin, phone_key, rfid_card or physical_key.
        #[arg(long)]
        kind: CredentialKind,
        #[arg(long, value_name = "ID")]
        unit: Option<i64>,
        /// For a PIN: the code (4–8 digits), taken only from the holder or a resident of the
        /// unit, for doors no other household can open; generated by latchkey when absent
        /// (staff never choose someone else's code).
        #[arg(long)]
        pin: Option<String>,
        /// For an RFID card: its UID in hex.
        #[arg(long)]
        card_uid: Option<String>,
        #[command(flatten)]
        acting: ActingAs,
    },
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Verify every link of the event log; exit 1 naming the first break.
    Verify {
        /// Also check the log against the signed anchors in FILE (written by serve): every
        /// signature, and that the log still holds each anchored event and hash.
        #[arg(long, value_name = "FILE")]
        anchor: Option<PathBuf>,
    },
    /// Print the chain head: the last sequence number and its hash.
    Head,
    /// Apply retention now (serve does so every hour): redact personal access events older
    /// than each property's personal_event_retention_days, and erase people who moved out
    /// longer ago than that. Redacted events keep verifying.
    Retention,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ExportFormat {
    Csv,
    Jsonl,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    #[arg(long, value_enum)]
    pub format: ExportFormat,
    /// Write here instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Only this property's events.
    #[arg(long, value_name = "ID")]
    pub property: Option<i64>,
    /// Only events at or after this instant (RFC 3339, e.g. 2026-01-01T00:00:00Z).
    #[arg(long, value_name = "RFC3339")]
    pub since: Option<jiff::Timestamp>,
    /// Only events before this instant (RFC 3339).
    #[arg(long, value_name = "RFC3339")]
    pub until: Option<jiff::Timestamp>,
    #[command(flatten)]
    pub acting: ActingAs,
}

#[derive(Debug, Subcommand)]
pub enum EventCommand {
    /// Every kind of event about doors, locks and sensors, with its meaning (the table
    /// docs/DEVICES.md shows).
    Kinds,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print a commented example latchkey.toml.
    Example,
}

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Access decisions per second at 1,000 and 100,000 credentials (temporary database).
    Decisions {
        /// Decisions timed at each size.
        #[arg(long, default_value_t = 2_000_000)]
        decisions: usize,
    },
    /// Keyed hash-chain audit append against plain inserts, and verification (temporary
    /// database).
    Audit {
        #[arg(long, default_value_t = 200_000)]
        events: usize,
    },
    /// Remote lock/unlock round trip through HTTP, the broker and virtual locks, next to the bare
    /// MQTT round trip; and commands per second.
    Unlock {
        /// Requests timed one at a time, and again spread over the connections.
        #[arg(long, default_value_t = 5_000)]
        requests: usize,
        /// Concurrent HTTP connections for the throughput run.
        #[arg(long, default_value_t = 16)]
        connections: usize,
        /// Use this broker (e.g. mqtt://127.0.0.1:1883) instead of an embedded one.
        #[arg(long, value_name = "URL")]
        mqtt_url: Option<String>,
        /// Run on PostgreSQL: a database is created for the run on the server this URL points
        /// at (its user needs CREATEDB) and dropped afterwards. Default: a temporary SQLite file.
        #[arg(long, value_name = "URL")]
        postgres_url: Option<String>,
        /// Server replicas on the one database and broker, sharing the locks' reports as
        /// `serve` replicas do; the bench sends its requests to them in turn.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=8))]
        replicas: u16,
    },
    /// Revoke one PIN present on N virtual locks; time until every lock confirmed its removal.
    Revoke {
        #[arg(long, default_value_t = 10_000)]
        locks: usize,
        /// Use this broker (e.g. mqtt://127.0.0.1:1883) instead of an embedded one.
        #[arg(long, value_name = "URL")]
        mqtt_url: Option<String>,
        /// What the virtual locks speak: Zigbee2MQTT, or Z-Wave behind one Z-Wave JS UI
        /// gateway (at most 231 locks, one Z-Wave network).
        #[arg(long, value_enum, default_value = "zigbee")]
        protocol: crate::bench::rig::LockProtocol,
    },
    /// The readiness drill of a building of N units (temporary database), timed.
    Drill {
        #[arg(long, default_value_t = 10_000)]
        units: usize,
    },
    /// Server render time of the web app's pages for a building of N units (temporary
    /// database, in this process), beside the cheapest answer of the same router.
    Pages {
        #[arg(long, default_value_t = 500)]
        units: usize,
        /// Requests timed per page.
        #[arg(long, default_value_t = 300)]
        requests: usize,
    },
    /// Resident memory of the server with N paired virtual locks (the locks in a child process).
    /// Webhook deliveries per second to one endpoint on a local receiver, beside the bare POST
    /// rate to it; and the latency of one event (temporary database).
    Deliveries {
        #[arg(long, default_value_t = 20_000)]
        events: usize,
        /// Events timed one at a time for the latency.
        #[arg(long, default_value_t = 200)]
        samples: usize,
    },
    Idle {
        #[arg(long, default_value_t = 10_000)]
        locks: usize,
        /// Seconds to let the server settle before measuring.
        #[arg(long, default_value_t = 10)]
        settle_seconds: u64,
    },
    /// N paired locks go offline at once: the messages each staff member gets per channel
    /// (at most one per window) and the time to ingest and route the storm (temporary
    /// database, in this process).
    Storm {
        #[arg(long, default_value_t = 10_000)]
        locks: usize,
    },
}

#[derive(Debug, Subcommand)]
pub enum DeviceCommand {
    /// Devices Zigbee2MQTT announced or reported, with what each is paired with.
    List {
        #[command(flatten)]
        acting: ActingAs,
    },
    /// Pair a lock with a door (--door) or a contact sensor device with a sensor (--sensor).
    /// The door's PINs are then written to the lock.
    Pair {
        #[command(flatten)]
        target: PairTarget,
        /// The device's Zigbee2MQTT friendly name.
        #[arg(long, value_name = "NAME")]
        device: String,
        #[command(flatten)]
        acting: ActingAs,
    },
    /// Unpair the lock of a door (--door) or the device of a sensor (--sensor).
    Unpair {
        #[command(flatten)]
        target: PairTarget,
        #[command(flatten)]
        acting: ActingAs,
    },
}

#[derive(Debug, Subcommand)]
pub enum RestoreCommand {
    /// Whether latchkey is in the restored state, and every code found on a lock that it does
    /// not know.
    Status {
        #[command(flatten)]
        acting: ActingAs,
    },
    /// Attach the code in a slot to a person, once its holder has told you the code they type.
    /// Nothing is written to the lock.
    Adopt {
        #[arg(long, value_name = "ID")]
        door: i64,
        #[arg(long)]
        slot: i64,
        #[arg(long, value_name = "ID")]
        person: i64,
        /// The code the holder types (read from --pin-file or one line of standard input when
        /// absent, so it stays out of the shell's history).
        #[arg(long)]
        pin: Option<String>,
        #[arg(long, value_name = "FILE")]
        pin_file: Option<PathBuf>,
        #[arg(long)]
        label: Option<String>,
        #[command(flatten)]
        acting: ActingAs,
    },
    /// Clear the code in a slot from the lock.
    Remove {
        #[arg(long, value_name = "ID")]
        door: i64,
        #[arg(long)]
        slot: i64,
        #[command(flatten)]
        acting: ActingAs,
    },
    /// End the restored state: latchkey writes and clears slots as usual again.
    End {
        #[command(flatten)]
        acting: ActingAs,
    },
}

/// A door or a sensor, exactly one.
#[derive(Debug, Args, Clone, Copy)]
#[group(required = true, multiple = false)]
pub struct PairTarget {
    #[arg(long, value_name = "ID")]
    pub door: Option<i64>,
    #[arg(long, value_name = "ID")]
    pub sensor: Option<i64>,
}

/// Where the virtual devices connect.
#[derive(Debug, Clone, Args)]
pub struct SimBrokerUrl {
    /// The broker: mqtt://[USER:PASS@]HOST:PORT (MQTT 3.1.1; latchkey's embedded broker by
    /// default). A broker beyond loopback needs a login (`latchkey broker-login create`): give
    /// it in LATCHKEY_SIM_MQTT_URL to keep the password out of the process list.
    #[arg(
        long,
        value_name = "URL",
        env = "LATCHKEY_SIM_MQTT_URL",
        hide_env_values = true,
        default_value = "mqtt://127.0.0.1:1883"
    )]
    pub mqtt_url: String,
}

/// Where the virtual devices' broker is.
#[derive(Debug, Args, Clone)]
pub struct SimBroker {
    #[command(flatten)]
    pub url: SimBrokerUrl,
    /// Zigbee2MQTT's base topic.
    #[arg(long, value_name = "TOPIC", default_value = "zigbee2mqtt")]
    pub base_topic: String,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum TurnAction {
    Lock,
    Unlock,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum DoorAction {
    Open,
    Close,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum OnOff {
    On,
    Off,
}

#[derive(Debug, Subcommand)]
pub enum SimCommand {
    /// Run a fleet of virtual locks and sensors until Ctrl-C.
    Run {
        #[command(flatten)]
        broker: SimBroker,
        /// Number of locks named PREFIX0, PREFIX1, … (ignored with --names).
        #[arg(long, default_value_t = 10)]
        locks: usize,
        #[arg(long, default_value = "lock-")]
        prefix: String,
        /// Lock friendly names, comma-separated, instead of --locks/--prefix.
        #[arg(long, value_delimiter = ',', value_name = "A,B,…")]
        names: Option<Vec<String>>,
        /// Door/window contact sensor friendly names, comma-separated.
        #[arg(long, value_delimiter = ',', value_name = "A,B,…")]
        sensors: Vec<String>,
        /// Time a lock takes to turn its bolt.
        #[arg(long, default_value_t = 2000, value_name = "MS")]
        actuation_ms: u64,
        /// QoS of the devices' state reports (0, 1 or 2).
        #[arg(long, default_value_t = 1)]
        qos: u8,
        /// Keep slot tables across restarts in this file.
        #[arg(long, value_name = "PATH")]
        state_file: Option<PathBuf>,
        /// Publish availability as plain online/offline (Zigbee2MQTT 1.x).
        #[arg(long)]
        legacy_availability: bool,
    },
    /// Run virtual Z-Wave locks behind a virtual Z-Wave JS UI MQTT gateway until Ctrl-C. They
    /// are driven by publishing to `latchkey-sim/<prefix>/<node id>/<op>` (docs/DEVICES.md,
    /// "Virtual Z-Wave locks").
    Zwave {
        #[command(flatten)]
        broker: SimBrokerUrl,
        /// The gateway's MQTT prefix (Z-Wave JS UI's `mqtt.prefix`).
        #[arg(long, default_value = "zwave")]
        prefix: String,
        /// The gateway's name (Z-Wave JS UI's `mqtt.name`).
        #[arg(long, default_value = "zwave-js-ui")]
        gateway_name: String,
        /// Lock nodes, numbered from 2 (node 1 is the controller); one network holds 231.
        #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=231))]
        locks: u16,
        /// User Code slots per lock.
        #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u16).range(1..=250))]
        slots: u16,
        /// The locks mask their codes on a read, as a Schlage BE469 does.
        #[arg(long)]
        masked: bool,
    },
    /// Type a PIN on a virtual lock's keypad.
    Keypad {
        #[command(flatten)]
        broker: SimBroker,
        #[arg(long, value_name = "NAME")]
        lock: String,
        #[arg(long)]
        pin: String,
    },
    /// Open or close the door of a virtual lock (opening a locked door is a forced entry).
    Door {
        #[command(flatten)]
        broker: SimBroker,
        #[arg(long, value_name = "NAME")]
        lock: String,
        #[arg(value_enum)]
        action: DoorAction,
    },
    /// Turn a virtual lock's bolt by hand from inside (the thumb turn), as a person at home does.
    Turn {
        #[command(flatten)]
        broker: SimBroker,
        #[arg(long, value_name = "NAME")]
        lock: String,
        #[arg(value_enum)]
        action: TurnAction,
    },
    /// Force a virtual lock's door open (or trip a contact sensor).
    Force {
        #[command(flatten)]
        broker: SimBroker,
        #[arg(long, value_name = "NAME")]
        lock: String,
    },
    /// Jam a virtual lock's bolt, or free it.
    Jam {
        #[command(flatten)]
        broker: SimBroker,
        #[arg(long, value_name = "NAME")]
        lock: String,
        #[arg(value_enum)]
        state: OnOff,
    },
    /// Set a virtual lock's battery level (percent).
    Battery {
        #[command(flatten)]
        broker: SimBroker,
        #[arg(long, value_name = "NAME")]
        lock: String,
        #[arg(value_parser = clap::value_parser!(u8).range(0..=100))]
        percent: u8,
    },
    /// Take a virtual device off the network.
    Offline {
        #[command(flatten)]
        broker: SimBroker,
        #[arg(long, value_name = "NAME")]
        lock: String,
    },
    /// Bring a virtual device back.
    Online {
        #[command(flatten)]
        broker: SimBroker,
        #[arg(long, value_name = "NAME")]
        lock: String,
    },
    /// Change the state of a running fleet's locks at a steady rate, for load tests: each lock
    /// in turn goes off the network, and in the next round comes back. Prints one JSON line
    /// per change with the time it was sent (milliseconds since 1970).
    Churn {
        #[command(flatten)]
        broker: SimBroker,
        /// Number of locks named PREFIX0, PREFIX1, … (as `sim run` names them).
        #[arg(long, default_value_t = 10)]
        locks: usize,
        #[arg(long, default_value = "lock-")]
        prefix: String,
        /// Changes per second, spread evenly.
        #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=10_000))]
        per_second: u32,
        /// Rounds over every lock: odd rounds take them offline, even rounds bring them back.
        #[arg(long, default_value_t = 2)]
        rounds: usize,
    },
}
