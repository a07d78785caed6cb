//! The Rust clients the benchmarks measure against the same emulated plugs:
//!
//! - [`Ours`]: `plugctl-client`'s [`KasaDevice::query`], the whole library path (encode,
//!   encrypt, frame, persistent connection with retries, decrypt, parse the JSON reply);
//! - [`Floor`]: the least a client can do: a pre-encoded `get_sysinfo` frame written to an
//!   already-open tokio socket, the 4-byte length and the body read back, nothing decrypted
//!   or parsed.

use std::{net::SocketAddr, sync::Arc};

use anyhow::{bail, Context, Result};
use plugctl_client::kasa::{ClientConfig, KasaDevice, Request};
use plugctl_proto::kasa::frame;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use crate::workload::Poller;

/// `plugctl-client` polling one device with `get_sysinfo`.
#[derive(Debug)]
pub struct Ours {
    device: KasaDevice,
    request: Request,
}

impl Ours {
    /// A handle on the device at `addr` with the default [`ClientConfig`] (no I/O yet).
    pub fn new(addr: SocketAddr) -> Self {
        Self { device: KasaDevice::new(addr, ClientConfig::default()), request: Request::get_sysinfo() }
    }
}

impl Poller for Ours {
    async fn poll(&mut self) -> Result<()> {
        self.device.query(&self.request).await?;
        Ok(())
    }
}

/// The pre-encoded TCP frame of `{"system":{"get_sysinfo":{}}}`.
pub fn sysinfo_frame() -> Arc<[u8]> {
    frame::encode(Request::get_sysinfo().to_json().as_bytes()).into()
}

/// The raw-socket floor on one device.
#[derive(Debug)]
pub struct Floor {
    stream: TcpStream,
    frame: Arc<[u8]>,
    body: Vec<u8>,
}

impl Floor {
    /// Connects to `addr`; every poll writes `frame` as is.
    pub async fn connect(addr: SocketAddr, frame: Arc<[u8]>) -> Result<Self> {
        let stream = TcpStream::connect(addr).await.with_context(|| format!("connecting to {addr}"))?;
        stream.set_nodelay(true)?;
        Ok(Self { stream, frame, body: Vec::with_capacity(2048) })
    }
}

impl Poller for Floor {
    async fn poll(&mut self) -> Result<()> {
        self.stream.write_all(&self.frame).await?;
        let mut header = [0u8; frame::HEADER_LEN];
        self.stream.read_exact(&mut header).await?;
        let len = u32::from_be_bytes(header) as usize;
        if len > frame::DEFAULT_MAX_FRAME {
            bail!("reply announces {len} bytes");
        }
        self.body.resize(len, 0);
        self.stream.read_exact(&mut self.body).await?;
        Ok(())
    }
}
