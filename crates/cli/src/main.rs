//! # plugctl
//!
//! The command-line front end of plugctl: discover and control TP-Link Kasa and Hi-Flying
//! (Maginon SP-2, Reco4life) plugs on the local network, set up their Wi-Fi, run emulated
//! plugs, and show a self-contained demo. A thin binary over the library
//! crates (`plugctl-proto`, `plugctl-client`, `plugctl-emulator`); every command has a human
//! printer and a stable `--json` printer.
//!
//! Exit codes: 0 success, 1 the operation failed (refused, timeout, device error, …),
//! 2 bad arguments, 3 `audit` found risks.

mod args;
mod commands;
mod output;
mod target;

use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

use args::{Cli, Command, EmulateCommand, WifiCommand};

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose);
    // Commands that may keep a socket per device: soft open-files limit up to the hard
    // limit first (the hub and the emulators check their own needs on top of this).
    if matches!(cli.command, Command::Discover(_) | Command::Serve(_)) {
        if let Err(e) = plugctl_client::fd_limit::raise_soft_limit() {
            tracing::debug!(error = %e, "cannot raise the open-files limit");
        }
    }
    // Device commands are a handful of round trips: a single-threaded runtime starts fastest.
    // Emulators and the demo serve many sockets and get all cores.
    let multi = matches!(cli.command, Command::Emulate(_) | Command::Demo(_) | Command::Serve(_));
    let rt = if multi {
        tokio::runtime::Builder::new_multi_thread().enable_all().build()
    } else {
        tokio::runtime::Builder::new_current_thread().enable_all().build()
    };
    let rt = match rt {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(cli.command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.downcast_ref::<commands::audit::RisksFound>().is_some() => {
            ExitCode::from(commands::audit::RISKS_FOUND_EXIT)
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            if e.downcast_ref::<commands::UsageError>().is_some() {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

async fn run(cmd: Command) -> anyhow::Result<()> {
    use commands::{
        away, cloud, countdown, decode, demo, device, discover, emulate, energy, schedule, serve, system,
        time, wifi,
    };
    match cmd {
        Command::Discover(a) => discover::run(&a).await,
        Command::State(a) => device::state(&a).await,
        Command::On(a) => device::switch(&a, Some(true)).await,
        Command::Off(a) => device::switch(&a, Some(false)).await,
        Command::Toggle(a) => device::switch(&a, None).await,
        Command::Info(a) => device::info(&a).await,
        Command::Energy(a) => energy::run(&a).await,
        Command::Alias(a) => device::alias(&a).await,
        Command::Led(a) => device::led(&a).await,
        Command::Reboot(a) => device::reboot(&a).await,
        Command::Raw(a) => device::raw(&a).await,
        Command::Countdown(a) => countdown::run(&a).await,
        Command::Time(a) => time::run(&a).await,
        Command::Schedule(a) => schedule::run(&a).await,
        Command::Away(a) => away::run(&a).await,
        Command::Cloud(a) => cloud::run(&a).await,
        Command::Location(a) => system::location(&a).await,
        Command::Reset(a) => system::reset(&a).await,
        Command::Brightness(a) => system::brightness(&a).await,
        Command::Decode(a) => decode::run(&a).await,
        Command::Serve(a) => serve::run(&a).await,
        Command::Wifi(WifiCommand::Scan(a)) => wifi::scan(&a).await,
        Command::Wifi(WifiCommand::Join(a)) => wifi::join(&a).await,
        Command::Emulate(EmulateCommand::Kasa(a)) => emulate::kasa(&a).await,
        Command::Emulate(EmulateCommand::Hf(a)) => emulate::hf(&a).await,
        Command::Demo(a) => demo::run(&a).await,
        Command::Audit(a) => commands::audit::run(&a).await,
        Command::HfPasswords(a) => commands::logins::run(&a).await,
    }
}

fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}
