//! Starting a fleet on shared sockets (Linux; see [`FleetSockets::Shared`]).

use std::{io, sync::Arc};

use super::{Fleet, FleetConfig, FleetSockets, Prepared};
use crate::kasa::server::shared::{bind_shared, serve_shared_tcp, serve_shared_udp, Member, Members};

/// Binds the two shared sockets and serves every prepared device on them.
pub(super) fn start(cfg: &FleetConfig, prepared: Vec<Prepared>) -> io::Result<Fleet> {
    let (listener, udp) = bind_shared(cfg.port)?;
    let port = listener.local_addr()?.port();
    let mut devices = Vec::with_capacity(prepared.len());
    let mut states = Vec::with_capacity(prepared.len());
    let mut members = Vec::with_capacity(prepared.len());
    for p in prepared {
        let Prepared { ip, mut info, state } = p;
        info.addr.set_port(port);
        devices.push(info);
        members.push(Member::new(ip, state.clone(), cfg.server.max_connections));
        states.push(state);
    }
    let members = Arc::new(Members::new(members));
    let tasks = vec![
        tokio::spawn(serve_shared_tcp(listener, members.clone(), cfg.server.clone())),
        tokio::spawn(serve_shared_udp(udp, members, cfg.broadcast, cfg.server.clone())),
    ];
    let broadcast = cfg.broadcast.map(|b| (b, port).into());
    Ok(Fleet { port, sockets: FleetSockets::Shared, broadcast, devices, states, tasks })
}
