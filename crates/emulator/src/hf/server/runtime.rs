//! Reboot supervision of one plug: serve its sockets until a reboot starts, drop them, stay
//! silent, boot, and bind again on the addresses of the new link (same port numbers).

use std::{
    net::Ipv4Addr,
    sync::{Arc, Mutex, PoisonError},
    time::{Duration, Instant},
};

use plugctl_proto::hf::Mac;
use tokio::{
    net::UdpSocket,
    sync::{watch, Notify},
    task::{JoinHandle, JoinSet},
};
use tracing::{debug, info, warn};

use super::{
    http, identity, lock,
    sockets::{bind_addr, AddrSockets},
    status_channel, tcp, udp, Ctx, PlugStatus, Ports, ServerConfig, SharedPlug,
};

/// Longest pause between two attempts at rebinding after a reboot.
const MAX_REBIND_BACKOFF: Duration = Duration::from_secs(1);

/// A plug's shared runtime state (also used by the fleet's broadcast dispatcher).
#[derive(Debug)]
pub(crate) struct PlugRuntime {
    pub(crate) ctx: Ctx,
    pub(crate) ports: Ports,
    wake: Arc<Notify>,
    stop: Notify,
    live: Mutex<Vec<(Ipv4Addr, Arc<UdpSocket>)>>,
    status: watch::Sender<PlugStatus>,
}

impl PlugRuntime {
    /// The UDP sockets served now, with their addresses.
    pub(crate) fn live_udp(&self) -> Vec<(Ipv4Addr, Arc<UdpSocket>)> {
        self.live.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    fn set_live(&self, live: Vec<(Ipv4Addr, Arc<UdpSocket>)>) {
        *self.live.lock().unwrap_or_else(PoisonError::into_inner) = live;
        self.publish();
    }

    fn publish(&self) {
        let addresses: Vec<Ipv4Addr> = self.live_udp().iter().map(|(ip, _)| *ip).collect();
        let d = lock(&self.ctx.device);
        let status = PlugStatus {
            online: !d.is_booting() && !addresses.is_empty(),
            link: d.link().clone(),
            addresses,
            boots: d.boots(),
        };
        drop(d);
        self.status.send_replace(status);
    }
}

/// A plug being served with reboot supervision ([`bind_plug`](super::bind_plug), fleets).
/// Dropping it stops the plug and closes its sockets.
#[derive(Debug)]
pub struct RunningPlug {
    rt: Arc<PlugRuntime>,
    status: watch::Receiver<PlugStatus>,
    mac: Mac,
    serial: String,
    task: JoinHandle<()>,
}

impl RunningPlug {
    /// The plug state (lock it to inspect or change it).
    pub fn device(&self) -> &SharedPlug {
        &self.rt.ctx.device
    }

    /// The port numbers (never 0).
    pub fn ports(&self) -> Ports {
        self.rt.ports
    }

    /// The station MAC.
    pub fn mac(&self) -> Mac {
        self.mac
    }

    /// The serial number.
    pub fn serial(&self) -> &str {
        &self.serial
    }

    /// The current network presence.
    pub fn status(&self) -> PlugStatus {
        self.status.borrow().clone()
    }

    /// The first address served now (`None` while rebooting).
    pub fn ip(&self) -> Option<Ipv4Addr> {
        self.status.borrow().addresses.first().copied()
    }

    /// A receiver that sees every status change (reboots, address moves).
    pub fn watch(&self) -> watch::Receiver<PlugStatus> {
        self.status.clone()
    }

    /// Waits until the status satisfies `pred` and returns it (forever if it never does;
    /// wrap in a timeout).
    pub async fn wait_for(&self, mut pred: impl FnMut(&PlugStatus) -> bool) -> PlugStatus {
        let mut rx = self.status.clone();
        let found = rx.wait_for(|s| pred(s)).await.map(|s| s.clone());
        match found {
            Ok(s) => s,
            // The sender lives in `self.rt`, so it cannot be gone; stay pending like a
            // status that never comes.
            Err(_) => std::future::pending().await,
        }
    }

    /// Stops the plug and waits until its sockets are closed.
    pub async fn shutdown(mut self) {
        self.rt.stop.notify_one();
        let _ = (&mut self.task).await;
    }

    pub(crate) fn runtime(&self) -> &Arc<PlugRuntime> {
        &self.rt
    }
}

impl Drop for RunningPlug {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts serving `device` on `first` (already bound) with reboot supervision.
pub(crate) fn start(
    device: SharedPlug,
    ports: Ports,
    cfg: ServerConfig,
    first: Vec<AddrSockets>,
) -> RunningPlug {
    let wake = Arc::new(Notify::new());
    let (mac, serial) = identity(&device);
    let initial = {
        let d = lock(&device);
        PlugStatus { online: false, link: d.link().clone(), addresses: Vec::new(), boots: d.boots() }
    };
    let (tx, rx) = status_channel(initial);
    let rt = Arc::new(PlugRuntime {
        ctx: Ctx { device, cfg: Arc::new(cfg), wake: Some(wake.clone()) },
        ports,
        wake,
        stop: Notify::new(),
        live: Mutex::new(Vec::new()),
        status: tx,
    });
    // Publish the first sockets before returning, so callers see the plug online at once.
    let servers = serve(&rt, first);
    let task = tokio::spawn(supervise(rt.clone(), servers));
    RunningPlug { rt, status: rx, mac, serial, task }
}

/// Publishes the sockets of `bound` as live, then spawns their servers.
fn serve(rt: &Arc<PlugRuntime>, bound: Vec<AddrSockets>) -> JoinSet<()> {
    rt.set_live(bound.iter().map(|s| (s.ip, s.udp.clone())).collect());
    let mut servers = JoinSet::new();
    for s in bound {
        servers.spawn(tcp::run(s.control, rt.ctx.clone()));
        servers.spawn(udp::run(s.udp, s.ip, rt.ctx.clone()));
        if let Some(h) = s.http {
            servers.spawn(http::run(h, rt.ctx.clone()));
        }
    }
    servers
}

async fn supervise(rt: Arc<PlugRuntime>, first: JoinSet<()>) {
    let mut servers = first;
    tokio::select! {
        () = rt.stop.notified() => {}
        () = cycle(&rt, &mut servers) => {}
    }
    rt.set_live(Vec::new());
    servers.shutdown().await;
}

/// Serve, reboot, rebind, forever.
async fn cycle(rt: &Arc<PlugRuntime>, servers: &mut JoinSet<()>) {
    loop {
        run_until_reboot(rt).await;
        rt.set_live(Vec::new());
        servers.shutdown().await;
        debug!("plug rebooting: sockets closed");
        tokio::time::sleep(rt.ctx.cfg.reboot_time).await;
        let link = lock(&rt.ctx.device).finish_boot(Instant::now()).clone();
        let bound = rebind(rt).await;
        info!(%link, addresses = ?bound.iter().map(|s| s.ip).collect::<Vec<_>>(), "plug rebooted");
        *servers = serve(rt, bound);
    }
}

/// Fires due delays on time; returns when the plug starts rebooting.
async fn run_until_reboot(rt: &PlugRuntime) {
    loop {
        let (booting, due) = {
            let d = lock(&rt.ctx.device);
            (d.is_booting(), d.next_due())
        };
        if booting {
            return;
        }
        let timer = async {
            match due {
                Some(t) => tokio::time::sleep_until(t.into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = rt.wake.notified() => {}
            () = timer => {
                for f in lock(&rt.ctx.device).tick(Instant::now()) {
                    info!(outlet = f.outlet, on = f.on, "delayed switch");
                }
                rt.publish();
            }
        }
    }
}

/// Binds the plug's current addresses, retrying with back-off while a port is taken.
async fn rebind(rt: &PlugRuntime) -> Vec<AddrSockets> {
    let mut backoff = Duration::from_millis(20);
    let mut warned = false;
    loop {
        let addrs = lock(&rt.ctx.device).addresses();
        match addrs.iter().map(|ip| bind_addr(*ip, rt.ports, false)).collect::<Result<Vec<_>, _>>() {
            Ok(bound) => return bound,
            Err(e) => {
                if !warned {
                    warn!(error = %e, "plug cannot bind after reboot; retrying");
                    warned = true;
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_REBIND_BACKOFF);
            }
        }
    }
}
