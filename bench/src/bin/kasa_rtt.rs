//! Median `get_sysinfo` round trip of plugctl-client on one kept-open connection.
//!
//! Usage: `kasa_rtt HOST:PORT [N]`; prints `{"impl":"plugctl","median_us":…,"p99_us":…,"n":…}`.

use std::{net::SocketAddr, time::Instant};

use anyhow::{Context, Result};
use plugctl_client::kasa::{ClientConfig, KasaDevice};
use plugctl_proto::kasa::Request;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let addr: SocketAddr = args.next().context("usage: kasa_rtt HOST:PORT [N]")?.parse()?;
    let n: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(2000);
    let dev = KasaDevice::new(addr, ClientConfig::default());
    let req = Request::get_sysinfo();
    for _ in 0..100 {
        dev.query(&req).await?; // warm-up, and the connection is open afterwards
    }
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        dev.query(&req).await?;
        samples.push(t.elapsed());
    }
    let s = plugctl_bench::summarise(&mut samples).context("no samples")?;
    println!(
        "{{\"impl\":\"plugctl\",\"median_us\":{:.1},\"p99_us\":{:.1},\"n\":{}}}",
        s.median.as_secs_f64() * 1e6,
        s.p99.as_secs_f64() * 1e6,
        s.n
    );
    Ok(())
}
