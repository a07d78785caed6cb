//! Command-line grammar. Names and flags here are a public interface: scripts rely on them.

use std::{net::Ipv4Addr, path::PathBuf};

use clap::{Args, Parser, Subcommand, ValueEnum};
use plugctl_client::{hf::Security, Family};

/// Control Wi-Fi smart plugs on the local network: no vendor app, no cloud.
#[derive(Debug, Parser)]
#[command(name = "plugctl", version, about, propagate_version = true)]
pub struct Cli {
    /// More logging (-v info, -vv debug, -vvv trace); RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Find plugs on the network by broadcast (or probe explicit hosts).
    Discover(DiscoverArgs),
    /// Show whether a plug (or strip outlet) is on.
    State(DeviceArgs),
    /// Switch on.
    On(DeviceArgs),
    /// Switch off.
    Off(DeviceArgs),
    /// Switch to the opposite state.
    Toggle(DeviceArgs),
    /// Show everything the plug reports about itself.
    Info(DeviceArgs),
    /// Show the energy meter: realtime, per day of a month, per month of a year; erase.
    Energy(crate::commands::energy::EnergyArgs),
    /// Show or set the plug's name.
    Alias(AliasArgs),
    /// Show or set the status LED.
    Led(LedArgs),
    /// Reboot the plug.
    Reboot(RebootArgs),
    /// Send a raw command (Kasa JSON or a Hi-Flying AT line) and print the plug's reply.
    Raw(RawArgs),
    /// Switch after a delay: add, list, delete or clear the plug's countdown.
    Countdown(CountdownArgs),
    /// Show, set or sync the plug's clock and time zone.
    Time(crate::commands::time::TimeArgs),
    /// The plug's own schedule: list, add, edit, delete, clear, enable, disable.
    Schedule(crate::commands::schedule::ScheduleArgs),
    /// Away mode (random switching while away): list, add, delete, clear, enable, disable.
    Away(crate::commands::away::AwayArgs),
    /// The TP-Link cloud binding: info, bind, unbind, server.
    Cloud(crate::commands::cloud::CloudArgs),
    /// Show or set the plug's location (used for sunrise and sunset rules).
    Location(crate::commands::system::LocationArgs),
    /// Factory-reset the plug (asks for --yes).
    Reset(crate::commands::system::ResetArgs),
    /// Show or set a dimmer's brightness.
    Brightness(crate::commands::system::BrightnessArgs),
    /// Run the hub: registry, poller, history, JSON API, dashboard, metrics, schedules.
    Serve(crate::commands::serve::ServeArgs),
    /// Decode captured Kasa and Hi-Flying traffic (hex, pcap or pcapng).
    Decode(crate::commands::decode::DecodeArgs),
    /// Wi-Fi set-up: list networks a plug sees, or put it on a network.
    #[command(subcommand)]
    Wifi(WifiCommand),
    /// Run emulated plugs in the foreground until interrupted.
    #[command(subcommand)]
    Emulate(EmulateCommand),
    /// Start an emulated fleet in-process, discover it, switch a plug and read its energy.
    Demo(DemoArgs),
    /// Find plugs and report what puts you at risk or off-line, with the fixing command
    /// (exit code 3 when risks are found).
    Audit(crate::commands::audit::AuditArgs),
    /// Replace a Hi-Flying plug's factory web login and assist password (the fix `audit`
    /// prints for them).
    HfPasswords(crate::commands::logins::HfPasswordsArgs),
}

/// Options shared by every command that talks to one device.
#[derive(Debug, Args, Clone)]
pub struct DeviceArgs {
    /// The plug: HOST or HOST:PORT (default port 9999 for Kasa, 8899 for Hi-Flying).
    pub host: String,
    /// Device family; detected by probing (Kasa on 9999, then Hi-Flying on 8899) if omitted.
    #[arg(long, global = true, value_name = "kasa|hf", value_parser = parse_family)]
    pub family: Option<Family>,
    /// Hi-Flying UDP port (discovery, state, Wi-Fi set-up).
    #[arg(long, global = true, value_name = "P", default_value_t = 48899)]
    pub udp_port: u16,
    /// Hi-Flying set-up ("assist") password, if the vendor changed the factory one.
    #[arg(long, global = true, value_name = "PASS", default_value = "HF-A11ASSISTHREAD")]
    pub assist_password: String,
    /// Strip outlet: full child id, its 2-digit suffix, or 0-based index.
    #[arg(long, global = true, value_name = "ID|INDEX")]
    pub child: Option<String>,
    /// Seconds to wait for connect and for each reply (per attempt).
    #[arg(long, global = true, value_name = "SECS", default_value_t = 5.0, value_parser = parse_secs)]
    pub timeout: f64,
    /// Retries after a timeout, reset or garbled reply (never after "connection refused").
    #[arg(long, global = true, value_name = "N", default_value_t = 3, value_parser = clap::value_parser!(u32).range(0..=10))]
    pub retries: u32,
    /// Print one JSON document instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    /// HTTP port probed for newer (KLAP) firmware when port 9999 refuses (tests).
    #[arg(long, global = true, hide = true, value_name = "P", default_value_t = plugctl_client::kasa::klap::DEFAULT_HTTP_PORT)]
    pub klap_http_port: u16,
    /// UDP discovery port probed for newer (KLAP) firmware when port 9999 refuses (tests).
    #[arg(long, global = true, hide = true, value_name = "P", default_value_t = plugctl_client::kasa::klap::DEFAULT_UDP_PORT)]
    pub klap_udp_port: u16,
}

/// `plugctl discover`.
#[derive(Debug, Args)]
pub struct DiscoverArgs {
    /// Broadcast (or unicast) address to send the discovery queries to.
    #[arg(long, value_name = "ADDR", default_value = "255.255.255.255")]
    pub target: String,
    /// Kasa discovery port (UDP, also the TCP port of found plugs).
    #[arg(long, value_name = "P", default_value_t = 9999)]
    pub port: u16,
    /// Only this family (both by default).
    #[arg(long, value_name = "kasa|hf", value_parser = parse_family)]
    pub family: Option<Family>,
    /// Hi-Flying discovery port (UDP `YZ-RECOSCAN`).
    #[arg(long, value_name = "P", default_value_t = 48899)]
    pub hf_port: u16,
    /// Hi-Flying control port reported for found plugs (TCP).
    #[arg(long, value_name = "P", default_value_t = 8899)]
    pub hf_control_port: u16,
    /// How long to listen for replies.
    #[arg(long, value_name = "SECS", default_value_t = 3.0, value_parser = parse_secs)]
    pub timeout: f64,
    /// Probe these hosts directly (HOST or HOST:PORT) instead of broadcasting.
    #[arg(long = "host", value_name = "HOST[:PORT]")]
    pub hosts: Vec<String>,
    /// One JSON object per line instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// `plugctl alias`.
#[derive(Debug, Args)]
pub struct AliasArgs {
    #[command(flatten)]
    pub device: DeviceArgs,
    /// New name; omit to show the current one.
    pub new: Option<String>,
}

/// On/off argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OnOff {
    /// On.
    On,
    /// Off.
    Off,
}

/// `plugctl led`.
#[derive(Debug, Args)]
pub struct LedArgs {
    #[command(flatten)]
    pub device: DeviceArgs,
    /// New LED state; omit to show the current one.
    pub state: Option<OnOff>,
}

/// `plugctl reboot`.
#[derive(Debug, Args)]
pub struct RebootArgs {
    #[command(flatten)]
    pub device: DeviceArgs,
    /// Seconds before the plug reboots (0 reboots at once, without a reply).
    #[arg(long, value_name = "S", default_value_t = 1)]
    pub delay: u32,
}

/// `plugctl raw`.
#[derive(Debug, Args)]
pub struct RawArgs {
    #[command(flatten)]
    pub device: DeviceArgs,
    /// The command: Kasa JSON like '{"system":{"get_sysinfo":{}}}', or a Hi-Flying AT line
    /// like 'AT+YZOUT'.
    pub command: String,
}

/// `plugctl countdown`.
#[derive(Debug, Args)]
pub struct CountdownArgs {
    #[command(flatten)]
    pub device: DeviceArgs,
    /// What to do.
    #[command(subcommand)]
    pub action: CountdownAction,
}

/// `plugctl countdown HOST …`.
#[derive(Debug, Subcommand)]
pub enum CountdownAction {
    /// Start a countdown (Kasa plugs keep one; a new one replaces it).
    Add {
        /// Delay, e.g. 90s, 5m, 1h30m (Hi-Flying plugs: whole minutes, 1m to 2000m).
        #[arg(long = "in", value_name = "DURATION", value_parser = parse_duration)]
        delay: u64,
        /// Switch on when it ends.
        #[arg(long, conflicts_with = "off", required_unless_present = "off")]
        on: bool,
        /// Switch off when it ends.
        #[arg(long)]
        off: bool,
    },
    /// Show the countdown (Kasa).
    List,
    /// Delete one countdown by id (Kasa).
    Delete {
        /// The rule id.
        id: String,
    },
    /// Delete every countdown (Kasa).
    Clear,
}

/// `plugctl wifi`.
#[derive(Debug, Subcommand)]
pub enum WifiCommand {
    /// List the networks the plug sees.
    Scan(DeviceArgs),
    /// Put the plug on a network (it leaves its set-up access point).
    Join(WifiJoinArgs),
}

/// `plugctl wifi join`.
#[derive(Debug, Args)]
pub struct WifiJoinArgs {
    #[command(flatten)]
    pub device: DeviceArgs,
    /// Network name (1–32 bytes).
    pub ssid: String,
    /// Network key (8–63 characters for WPA/WPA2; none for open networks).
    #[arg(long, env = "PLUGCTL_WIFI_PASSWORD", hide_env_values = true)]
    pub password: Option<String>,
    /// Network security.
    #[arg(long, value_name = "wpa2-aes|wpa-tkip|open", default_value = "wpa2-aes", value_parser = parse_security)]
    pub security: Security,
}

/// `plugctl emulate`.
#[derive(Debug, Subcommand)]
pub enum EmulateCommand {
    /// Emulate TP-Link Kasa plugs (TCP and UDP on one port).
    Kasa(EmulateKasaArgs),
    /// Emulate Hi-Flying HF-LPB100 plugs (Maginon SP-2, Reco4life).
    Hf(EmulateHfArgs),
}

/// Start mode of an emulated Hi-Flying plug.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum HfMode {
    /// Unprovisioned: only reachable on its set-up access point address.
    Ap,
    /// Joined to the home network.
    Sta,
}

/// `plugctl emulate hf`.
#[derive(Debug, Args)]
pub struct EmulateHfArgs {
    /// Number of plugs, each on its own address from --base on.
    #[arg(long, short = 'n', value_name = "N", default_value_t = 1)]
    pub count: usize,
    /// Address of the first plug (its AP address in AP mode).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.2")]
    pub base: Ipv4Addr,
    /// Address of the first plug on the "home network" (where AP-mode plugs go after
    /// `wifi join`); default: right after the fleet's addresses.
    #[arg(long, value_name = "ADDR")]
    pub home_base: Option<Ipv4Addr>,
    /// TCP control port (0 picks a free one).
    #[arg(long, short, value_name = "P", default_value_t = 8899)]
    pub port: u16,
    /// UDP discovery and set-up port (0 picks a free one).
    #[arg(long, value_name = "P", default_value_t = 48899)]
    pub udp_port: u16,
    /// Also serve the plug's web page (Basic auth ADMIN/ADMIN) on this port (0 picks one).
    #[arg(long, value_name = "P")]
    pub http_port: Option<u16>,
    /// Start unprovisioned (ap) or on the home network (sta).
    #[arg(long, value_enum, default_value = "sta")]
    pub mode: HfMode,
    /// Also answer discovery broadcasts sent to this address (default: 127.255.255.255 for a
    /// loopback base, none otherwise).
    #[arg(long, value_name = "ADDR")]
    pub broadcast: Option<Ipv4Addr>,
    /// Simulated time runs this many times faster (countdowns, energy).
    #[arg(long, value_name = "X", default_value_t = 1.0)]
    pub time_scale: f64,
    /// Print one JSON object per plug (and per status change) instead of text.
    #[arg(long)]
    pub json: bool,
    /// Fault injection.
    #[command(flatten)]
    pub fault: FaultArgs,
}

/// Fault injection options of `plugctl emulate kasa|hf`.
#[derive(Debug, Args)]
pub struct FaultArgs {
    /// Inject a fault, KIND[:RATE] (repeatable). KIND: delay[=MS] (default 2000), no-reply,
    /// close-mid-frame, split-writes, garbage, bad-length (Kasa only), huge-length,
    /// wrong-reply, refuse, accept-no-read, reboot. RATE in [0, 1]: probability per request
    /// (per connection for refuse and accept-no-read), default 1.
    #[arg(long = "fault", value_name = "KIND[:RATE]")]
    pub faults: Vec<plugctl_emulator::fault::FaultSpec>,
    /// Faults are active only for the first SECS seconds, then the plugs behave.
    #[arg(long, value_name = "SECS", value_parser = parse_secs, requires = "faults")]
    pub fault_for: Option<f64>,
    /// Seed of the fault dice: the same seed and request order give the same faults.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub fault_seed: u64,
}

/// `plugctl emulate kasa`.
#[derive(Debug, Args)]
pub struct EmulateKasaArgs {
    /// Built-in model profile (see --list-models).
    #[arg(long, short, value_name = "M", conflicts_with = "profile")]
    pub model: Option<String>,
    /// Serve a device dump (python-kasa fixture format) instead of a built-in model.
    #[arg(long, value_name = "FILE")]
    pub profile: Option<PathBuf>,
    /// Number of devices, each on its own address from --base on.
    #[arg(long, short = 'n', value_name = "N", default_value_t = 1)]
    pub count: usize,
    /// Address of the first device.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.2")]
    pub base: Ipv4Addr,
    /// TCP and UDP port of every device (0 picks a free one).
    #[arg(long, short, value_name = "P", default_value_t = 9999)]
    pub port: u16,
    /// Also answer discovery broadcasts sent to this address (default: 127.255.255.255 for a
    /// loopback base, none otherwise).
    #[arg(long, value_name = "ADDR")]
    pub broadcast: Option<Ipv4Addr>,
    /// Close the connection after every reply, like old firmware.
    #[arg(long)]
    pub close_after_reply: bool,
    /// Fault injection.
    #[command(flatten)]
    pub fault: FaultArgs,
    /// Serve every device from one TCP listener and one UDP socket on 0.0.0.0:P restricted to
    /// `lo` (Linux), dispatching by address: 2 file descriptors per fleet instead of 2 per
    /// device. Used automatically when per-device sockets would not fit the descriptor limit.
    #[arg(long)]
    pub shared_sockets: bool,
    /// Simulated time runs this many times faster (on_time, energy, countdowns, schedules,
    /// away mode).
    #[arg(long, value_name = "X", default_value_t = 1.0)]
    pub time_scale: f64,
    /// Behave like a plug on newer (KLAP) firmware: no port-9999 service, only the KLAP
    /// handshake and discovery answer (automatic for a --profile dump of such a plug).
    #[arg(long)]
    pub klap: bool,
    /// KLAP mode: the HTTP handshake port (80 on real plugs; 0 picks a free one).
    #[arg(long, value_name = "P", default_value_t = 80)]
    pub klap_http_port: u16,
    /// KLAP mode: the UDP discovery port (20002 on real plugs; 0 picks a free one).
    #[arg(long, value_name = "P", default_value_t = 20002)]
    pub klap_udp_port: u16,
    /// KLAP mode: refuse connections on --port instead of closing them without a reply.
    #[arg(long)]
    pub klap_refuse: bool,
    /// List the built-in models and exit.
    #[arg(long)]
    pub list_models: bool,
    /// Print one JSON object per device instead of text.
    #[arg(long)]
    pub json: bool,
}

/// `plugctl demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Number of emulated devices.
    #[arg(long, short = 'n', default_value_t = 6)]
    pub count: usize,
}

/// Parses `90s`, `5m`, `1h30m`, `2h` into seconds.
pub fn parse_duration(s: &str) -> Result<u64, String> {
    let bad = || format!("`{s}` is not a duration like 90s, 5m or 1h30m");
    let (mut total, mut num) = (0u64, String::new());
    if s.trim().is_empty() {
        return Err(bad());
    }
    for c in s.trim().chars() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            _ => return Err(bad()),
        };
        let n: u64 = num.parse().map_err(|_| bad())?;
        total = n.checked_mul(unit).and_then(|x| total.checked_add(x)).ok_or_else(bad)?;
        num.clear();
    }
    if !num.is_empty() {
        return Err(format!("`{s}` needs a unit: s, m, h or d (e.g. {s}m)"));
    }
    if total == 0 || total > 30 * 86_400 {
        return Err(format!("`{s}` is out of range (1s to 30d)"));
    }
    Ok(total)
}

fn parse_family(s: &str) -> Result<Family, String> {
    s.parse().map_err(|e: plugctl_client::device::UnknownFamily| e.to_string())
}

fn parse_security(s: &str) -> Result<Security, String> {
    s.parse().map_err(|e: plugctl_client::hf::wifi::UnknownSecurity| e.to_string())
}

fn parse_secs(s: &str) -> Result<f64, String> {
    let v: f64 = s.parse().map_err(|_| format!("`{s}` is not a number of seconds"))?;
    if !(v > 0.0 && v <= 3600.0) {
        return Err(format!("{s} s is out of range (0 < SECS <= 3600)"));
    }
    Ok(v)
}
