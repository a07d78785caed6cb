//! `plugctl decode`: turn captured bytes (hex, pcap, pcapng) into readable requests and replies.
//!
//! - `plugctl decode HEX`: one Kasa TCP frame (or several back to back) or one UDP datagram,
//!   printed as JSON (pretty by default, one compact line with `--json`).
//! - `plugctl decode --pcap FILE`: every Kasa and Hi-Flying exchange in a capture, as text
//!   blocks or one JSON object per line.

use std::{io::Read, path::PathBuf};

use anyhow::{anyhow, Context, Result};
use clap::{ArgGroup, Args};
use plugctl_capture::{
    decode_capture, hex,
    kasa::{self, Framing},
    CaptureFormat, Content, Decoded, Exchange, Message, MessageError, Ports, Transport,
};
use serde_json::Value;

use super::usage;

/// `plugctl decode`.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("input").required(true).args(["hex", "pcap"])))]
pub struct DecodeArgs {
    /// Hex bytes of one Kasa TCP frame (with its 4-byte length) or UDP datagram; spaces,
    /// colons and `0x` are fine; `-` reads them from stdin.
    #[arg(value_name = "HEX", num_args = 1..)]
    pub hex: Vec<String>,
    /// Decode a pcap or pcapng capture file (`-` for stdin) instead.
    #[arg(long, value_name = "FILE", conflicts_with = "hex")]
    pub pcap: Option<PathBuf>,
    /// Read HEX as TCP frames (default: TCP when a 4-byte length header fits, else UDP).
    #[arg(long, conflicts_with_all = ["udp", "pcap"])]
    pub tcp: bool,
    /// Read HEX as a UDP datagram.
    #[arg(long, conflicts_with = "pcap")]
    pub udp: bool,
    /// Kasa port in the capture, TCP and UDP (default 9999); repeat for several.
    #[arg(long = "port", value_name = "P", conflicts_with = "hex")]
    pub ports: Vec<u16>,
    /// Hi-Flying control port in the capture, TCP (default 8899); repeat for several.
    #[arg(long = "hf-control-port", value_name = "P", conflicts_with = "hex")]
    pub hf_control_ports: Vec<u16>,
    /// Hi-Flying discovery/assist port in the capture, UDP (default 48899); repeat for several.
    #[arg(long = "hf-port", value_name = "P", conflicts_with = "hex")]
    pub hf_ports: Vec<u16>,
    /// Compact JSON: one line per message (HEX) or per exchange (--pcap).
    #[arg(long)]
    pub json: bool,
}

/// Runs the command.
pub async fn run(args: &DecodeArgs) -> Result<()> {
    match &args.pcap {
        Some(path) => pcap(args, path),
        None => hex_input(args),
    }
}

// ---- plugctl decode HEX ----------------------------------------------------------------

fn hex_input(args: &DecodeArgs) -> Result<()> {
    let text = if args.hex.len() == 1 && args.hex[0] == "-" {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s).context("cannot read hex from stdin")?;
        s
    } else {
        args.hex.join(" ")
    };
    let bytes = hex::parse(&text).map_err(|e| usage(format!("bad HEX: {e}")))?;
    let framing = if args.tcp {
        Framing::Tcp
    } else if args.udp {
        Framing::Udp
    } else {
        kasa::detect_framing(&bytes)
    };
    let contents = match framing {
        Framing::Tcp => kasa::decode_frames(&bytes).map_err(|e| anyhow!("not a Kasa TCP frame: {e}"))?,
        Framing::Udp => vec![kasa::decode_datagram(&bytes)],
    };
    for content in contents {
        match content {
            Content::Json(v) => print_json(&v, args.json)?,
            Content::Undecodable { error, text } => {
                return Err(anyhow!(undecodable(&error, text, &bytes, framing)))
            }
            Content::Text(t) => println!("{t}"),
        }
    }
    Ok(())
}

fn print_json(v: &Value, compact: bool) -> Result<()> {
    if compact {
        println!("{v}");
    } else {
        println!("{}", serde_json::to_string_pretty(v)?);
    }
    Ok(())
}

/// The one-line error for a message that is not JSON, with a hint at what it is instead.
fn undecodable(error: &MessageError, text: Option<String>, bytes: &[u8], framing: Framing) -> String {
    let mut msg = format!("not a Kasa {}: {error}", framing_name(framing));
    if let Some(t) = text.filter(|t| mostly_printable(t)) {
        msg.push_str(&format!("; decrypted: {:?}", shorten(&t, 60)));
    }
    if std::str::from_utf8(bytes).is_ok_and(mostly_printable) {
        let plain = shorten(&String::from_utf8_lossy(bytes), 60);
        msg.push_str(&format!("; the bytes are plain text, not encrypted: {plain:?}"));
    } else if framing == Framing::Udp && bytes.len() >= 4 && bytes[..2] == [0, 0] {
        let announced = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
        msg.push_str(&format!(
            "; it starts like a TCP frame header announcing {announced} bytes, but {} follow",
            bytes.len() - 4
        ));
    }
    msg
}

/// Whether at least 90% of the characters of `s` are printable (or whitespace).
fn mostly_printable(s: &str) -> bool {
    let total = s.chars().count();
    let good =
        s.chars().filter(|c| !c.is_control() || c.is_whitespace()).filter(|c| *c != '\u{fffd}').count();
    total > 0 && good * 10 >= total * 9
}

fn framing_name(f: Framing) -> &'static str {
    match f {
        Framing::Tcp => "TCP frame",
        Framing::Udp => "UDP datagram",
    }
}

/// At most `n` characters of `s`, with `…` when cut.
fn shorten(s: &str, n: usize) -> String {
    let mut out: String = s.chars().take(n).collect();
    if s.chars().nth(n).is_some() {
        out.push('…');
    }
    out
}

// ---- plugctl decode --pcap FILE --------------------------------------------------------

/// Largest capture read (bytes): decoding holds the file and the matching payloads in memory.
const MAX_CAPTURE: u64 = 2 << 30;

fn pcap(args: &DecodeArgs, path: &std::path::Path) -> Result<()> {
    let name = path.display().to_string();
    // The capture is decoded in memory; refuse what would not fit comfortably.
    let too_large =
        || anyhow!("{name}: larger than {MAX_CAPTURE} bytes; cut it first (editcap -c, or a capture filter)");
    let mut bytes = Vec::new();
    if name == "-" {
        std::io::stdin()
            .take(MAX_CAPTURE + 1)
            .read_to_end(&mut bytes)
            .context("cannot read the capture from stdin")?;
    } else {
        let file = std::fs::File::open(path).with_context(|| format!("cannot read {name}"))?;
        file.take(MAX_CAPTURE + 1).read_to_end(&mut bytes).with_context(|| format!("cannot read {name}"))?;
    }
    if bytes.len() as u64 > MAX_CAPTURE {
        return Err(too_large());
    }
    let defaults = Ports::default();
    let pick = |given: &Vec<u16>, default: Vec<u16>| if given.is_empty() { default } else { given.clone() };
    let ports = Ports {
        kasa: pick(&args.ports, defaults.kasa),
        hf_control: pick(&args.hf_control_ports, defaults.hf_control),
        hf_udp: pick(&args.hf_ports, defaults.hf_udp),
    };
    let decoded = decode_capture(&bytes, &ports).map_err(|e| anyhow!("{name}: {e}"))?;
    if args.json {
        for e in &decoded.exchanges {
            println!("{}", serde_json::to_string(e)?);
        }
    } else {
        for e in &decoded.exchanges {
            print!("{}", block(e));
        }
        println!("{}", summary(&decoded, &ports));
    }
    match decoded.stopped {
        Some(e) => Err(anyhow!(
            "{name}: {e} (the {} exchanges before that point are shown)",
            decoded.exchanges.len()
        )),
        None => Ok(()),
    }
}

/// Column where message text starts in a block.
const INDENT: &str = "           ";

/// One exchange as a text block.
fn block(e: &Exchange) -> String {
    let mut s = format!("{}  {} → {}  {}\n", e.time, e.client, e.server, e.transport);
    s.push_str(&message_lines("request", e.request.as_ref(), None));
    let latency = e.latency().map(|l| format!("  (+{:.3} ms)", l * 1000.0));
    s.push_str(&message_lines("reply", e.reply.as_ref(), latency));
    s.push('\n');
    s
}

fn message_lines(label: &str, m: Option<&Message>, suffix: Option<String>) -> String {
    let Some(m) = m else {
        return format!("  {label:<8} (not in the capture)\n");
    };
    let suffix = suffix.unwrap_or_default();
    let mut lines: Vec<String> = match &m.content {
        Content::Json(v) => vec![format!("{v}{suffix}")],
        Content::Text(t) => {
            let mut l: Vec<String> = t.lines().map(str::to_string).collect();
            if l.is_empty() {
                l.push(String::new());
            }
            if let Some(last) = l.last_mut() {
                last.push_str(&suffix);
            }
            l
        }
        Content::Undecodable { error, text } => {
            let mut l = vec![format!("error: {error}{suffix}")];
            if let Some(t) = text {
                l.push(format!("text:  {}", t.escape_debug()));
            }
            if !m.raw.is_empty() {
                let shown = &m.raw[..m.raw.len().min(64)];
                let more =
                    if m.raw.len() > 64 { format!("… ({} bytes)", m.raw.len()) } else { String::new() };
                l.push(format!("hex:   {}{more}", hex::encode(shown)));
            }
            l
        }
    };
    let first = lines.remove(0);
    let mut out = format!("  {label:<8} {first}\n");
    for l in lines {
        out.push_str(&format!("{INDENT}{l}\n"));
    }
    out
}

/// The closing line: what was found, and what was not decoded.
fn summary(d: &Decoded, ports: &Ports) -> String {
    let s = &d.stats;
    if d.exchanges.is_empty() {
        let list = |p: &[u16]| p.iter().map(u16::to_string).collect::<Vec<_>>().join(",");
        return format!(
            "no Kasa or Hi-Flying traffic in {} packets (looked at Kasa port {}, Hi-Flying {}/tcp and {}/udp; \
             --port, --hf-control-port and --hf-port pick others)",
            s.packets,
            list(&ports.kasa),
            list(&ports.hf_control),
            list(&ports.hf_udp)
        );
    }
    let mut counts: Vec<(Transport, usize)> = Vec::new();
    for e in &d.exchanges {
        match counts.iter_mut().find(|(t, _)| *t == e.transport) {
            Some((_, n)) => *n += 1,
            None => counts.push((e.transport, 1)),
        }
    }
    counts.sort();
    let kinds: Vec<String> = counts.iter().map(|(t, n)| format!("{n} {t}")).collect();
    let plural = |n: u64, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    let mut out = format!(
        "{} ({}) in {} of {}",
        plural(d.exchanges.len() as u64, "exchange", "exchanges"),
        kinds.join(", "),
        format_name(d.format),
        plural(s.packets, "packet", "packets")
    );
    let r = &s.reassembly;
    if r.retransmitted > 0 {
        out.push_str(&format!(
            "; {}",
            plural(r.retransmitted, "retransmitted segment", "retransmitted segments")
        ));
    }
    if r.gaps > 0 {
        out.push_str(&format!("; {} ({} bytes missing)", plural(r.gaps, "gap", "gaps"), r.gap_bytes));
    }
    let other = s.other_ports + s.not_tcp_udp + s.fragments + s.malformed + s.unsupported_link;
    if other > 0 {
        out.push_str(&format!("; {} other", plural(other, "packet", "packets")));
    }
    out
}

/// `a pcap`/`a pcapng`, for the summary.
fn format_name(f: CaptureFormat) -> &'static str {
    match f {
        CaptureFormat::Pcap => "a pcap",
        CaptureFormat::Pcapng => "a pcapng",
    }
}
