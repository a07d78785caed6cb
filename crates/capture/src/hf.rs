//! Hi-Flying traffic as text: AT lines on the TCP control port (8899) and datagrams on UDP
//! 48899 (`YZ-RECOSCAN`, the assist password, `AT+…` with `+ok`/`+ERR` replies).
//!
//! On TCP, lines end at `\r`, `\n` or both; a line the client sends without a terminator
//! ends when the plug answers (clients such as the Reco scripts send bare commands).
//! Each client line is a request; reply lines go to the oldest unanswered request, and a
//! reply line that finds no unanswered request joins the previous reply (the captured
//! `+ok` then `+error` quirk of hf-protocol.md §2.6 stays one reply).

use std::collections::VecDeque;

use crate::{
    message::{preview, Content, Message, MessageError},
    tcp::{StreamEvent, TcpConnection},
    time::Timestamp,
};

/// Longest line kept waiting for its terminator; longer runs are cut into messages.
const MAX_PENDING: usize = 4096;

/// The text of Hi-Flying bytes: non-empty lines joined with `\n`, NULs and line terminators
/// removed. Invalid UTF-8 or control characters make it [`MessageError::NotText`].
pub fn text_content(bytes: &[u8]) -> Content {
    let Ok(s) = std::str::from_utf8(bytes) else {
        return Content::Undecodable { error: MessageError::NotText, text: None };
    };
    if s.chars().any(|c| c.is_control() && !matches!(c, '\r' | '\n' | '\t' | '\0')) {
        return Content::Undecodable { error: MessageError::NotText, text: None };
    }
    let lines: Vec<&str> =
        s.split(['\r', '\n']).map(|l| l.trim_matches('\0')).filter(|l| !l.trim().is_empty()).collect();
    Content::Text(lines.join("\n"))
}

/// A UDP datagram as a message; `missing` bytes were cut by the capture.
pub(crate) fn datagram_message(packet: u64, time: Timestamp, payload: &[u8], missing: u32) -> Message {
    let content = if missing > 0 {
        Content::Undecodable {
            error: MessageError::Missing { bytes: u64::from(missing) },
            text: Some(preview(payload)),
        }
    } else {
        text_content(payload)
    };
    Message { packet, time, content, raw: payload.to_vec() }
}

/// Whether a UDP request expects no reply: `+ok`, which only enters AT mode.
pub(crate) fn expects_no_reply(m: &Message) -> bool {
    matches!(&m.content, Content::Text(t) if t.eq_ignore_ascii_case("+ok"))
}

/// Which side sent a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Client,
    Server,
}

/// Bytes of one side waiting for a line terminator.
#[derive(Debug, Default)]
struct LineBuf {
    pending: Vec<u8>,
    start: (u64, Timestamp),
}

impl LineBuf {
    /// Appends bytes and returns the complete lines (with their terminators).
    fn push(&mut self, packet: u64, time: Timestamp, bytes: &[u8]) -> Vec<Message> {
        let mut out = Vec::new();
        for &b in bytes {
            let terminator = b == b'\r' || b == b'\n';
            if self.pending.is_empty() {
                if terminator {
                    continue; // the rest of a terminator run, or an empty line
                }
                self.start = (packet, time);
            }
            let ends_line = !terminator && self.pending.last().is_some_and(|&l| l == b'\r' || l == b'\n');
            if ends_line || self.pending.len() >= MAX_PENDING {
                out.extend(self.flush(None));
                self.start = (packet, time);
            }
            self.pending.push(b);
        }
        out
    }

    /// The pending bytes as one message, if any (marked as missing `lost` bytes).
    fn flush(&mut self, lost: Option<u64>) -> Option<Message> {
        if self.pending.is_empty() {
            return None;
        }
        let raw = std::mem::take(&mut self.pending);
        let content = match lost {
            Some(bytes) => {
                Content::Undecodable { error: MessageError::Missing { bytes }, text: Some(preview(&raw)) }
            }
            None => text_content(&raw),
        };
        if matches!(&content, Content::Text(t) if t.is_empty()) {
            return None;
        }
        Some(Message { packet: self.start.0, time: self.start.1, content, raw })
    }
}

/// Request/reply pairs of one Hi-Flying control connection, in order.
pub(crate) fn tcp_pairs<T>(conn: &TcpConnection<T>) -> Vec<(Option<Message>, Option<Message>)> {
    let mut pairing = Pairing::default();
    let (mut client, mut server) = (LineBuf::default(), LineBuf::default());
    let (c, s) = (&conn.to_server.events, &conn.to_client.events);
    let (mut i, mut j) = (0, 0);
    // Two-way merge by packet number, keeping each direction's stream order.
    while i < c.len() || j < s.len() {
        let take_client = match (c.get(i), s.get(j)) {
            (Some(a), Some(b)) => a.packet() <= b.packet(),
            (Some(_), None) => true,
            _ => false,
        };
        let (side, ev) = if take_client {
            i += 1;
            (Side::Client, &c[i - 1])
        } else {
            j += 1;
            (Side::Server, &s[j - 1])
        };
        let (mine, other) = match side {
            Side::Client => (&mut client, &mut server),
            Side::Server => (&mut server, &mut client),
        };
        match ev {
            StreamEvent::Data { packet, time, bytes } => {
                // The other side spoke up: whatever it sent without a terminator was complete.
                if let Some(m) = other.flush(None) {
                    pairing.add(side_other(side), m);
                }
                for m in mine.push(*packet, *time, bytes) {
                    pairing.add(side, m);
                }
            }
            StreamEvent::Gap { packet, time, len } => {
                let m = mine.flush(Some(*len)).unwrap_or_else(|| Message {
                    packet: *packet,
                    time: *time,
                    content: Content::Undecodable { error: MessageError::Lost { bytes: *len }, text: None },
                    raw: Vec::new(),
                });
                pairing.add(side, m);
            }
        }
    }
    let mut rest: Vec<(Side, Message)> =
        [(Side::Client, client.flush(None)), (Side::Server, server.flush(None))]
            .into_iter()
            .filter_map(|(side, m)| m.map(|m| (side, m)))
            .collect();
    rest.sort_by_key(|(_, m)| m.packet);
    for (side, m) in rest {
        pairing.add(side, m);
    }
    pairing.pairs
}

fn side_other(side: Side) -> Side {
    match side {
        Side::Client => Side::Server,
        Side::Server => Side::Client,
    }
}

/// Pairs lines into exchanges as they come.
#[derive(Debug, Default)]
struct Pairing {
    pairs: Vec<(Option<Message>, Option<Message>)>,
    unanswered: VecDeque<usize>,
    /// The exchange that got the latest reply, while no new request came in.
    last_replied: Option<usize>,
}

impl Pairing {
    fn add(&mut self, side: Side, m: Message) {
        match side {
            Side::Client => {
                self.pairs.push((Some(m), None));
                self.unanswered.push_back(self.pairs.len() - 1);
                self.last_replied = None;
            }
            Side::Server => {
                if let Some(i) = self.unanswered.pop_front() {
                    self.pairs[i].1 = Some(m);
                    self.last_replied = Some(i);
                } else if let Some(reply) = self.last_replied.and_then(|i| self.pairs[i].1.as_mut()) {
                    join(reply, m);
                } else {
                    self.pairs.push((None, Some(m)));
                    self.last_replied = Some(self.pairs.len() - 1);
                }
            }
        }
    }
}

/// Appends a further reply line to a reply.
fn join(reply: &mut Message, more: Message) {
    reply.raw.extend_from_slice(&more.raw);
    let text = |c: &Content| match c {
        Content::Text(t) => Some(t.clone()),
        Content::Undecodable { text, .. } => text.clone(),
        Content::Json(v) => Some(v.to_string()),
    };
    let joined = match (text(&reply.content), text(&more.content)) {
        (Some(a), Some(b)) => Some(format!("{a}\n{b}")),
        (a, b) => a.or(b),
    };
    let error = match (&reply.content, &more.content) {
        (Content::Undecodable { error, .. }, _) | (_, Content::Undecodable { error, .. }) => {
            Some(error.clone())
        }
        _ => None,
    };
    reply.content = match error {
        Some(error) => Content::Undecodable { error, text: joined },
        None => Content::Text(joined.unwrap_or_default()),
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tcp::{Direction, ReassemblyStats};

    fn data(packet: u64, bytes: &[u8]) -> StreamEvent {
        StreamEvent::Data { packet, time: Timestamp::new(packet as i64, 0), bytes: bytes.to_vec() }
    }

    fn conn(to_server: Vec<StreamEvent>, to_client: Vec<StreamEvent>) -> TcpConnection<()> {
        TcpConnection {
            tag: (),
            client: "127.0.0.1:5000".parse().unwrap(),
            server: "127.0.0.2:8899".parse().unwrap(),
            first_packet: 1,
            first_time: Timestamp::EPOCH,
            to_server: Direction { events: to_server, end: Default::default(), syn_seen: true },
            to_client: Direction { events: to_client, end: Default::default(), syn_seen: true },
            stats: ReassemblyStats::default(),
        }
    }

    fn texts(pairs: &[(Option<Message>, Option<Message>)]) -> Vec<(Option<String>, Option<String>)> {
        let t = |m: &Option<Message>| {
            m.as_ref().map(|m| match &m.content {
                Content::Text(t) => t.clone(),
                other => format!("{other:?}"),
            })
        };
        pairs.iter().map(|(a, b)| (t(a), t(b))).collect()
    }

    fn s(x: &str) -> Option<String> {
        Some(x.to_string())
    }

    #[test]
    fn lines_pair_in_order_with_bare_commands_and_the_quirk() {
        let c = conn(
            vec![
                data(1, b"AT+YZSWITCH=1,ON,201808101512\r\n"),
                data(3, b"AT+YZOUT"),
                data(5, b"AT+YZSWITCH=1,OFF\r\n"),
            ],
            vec![data(2, b"+ok\r\n"), data(4, b"+ok=1,230.1,0.0,0.0,50.0,0\r\n"), data(6, b"+ok\r\n+error")],
        );
        assert_eq!(
            texts(&tcp_pairs(&c)),
            vec![
                (s("AT+YZSWITCH=1,ON,201808101512"), s("+ok")),
                (s("AT+YZOUT"), s("+ok=1,230.1,0.0,0.0,50.0,0")),
                (s("AT+YZSWITCH=1,OFF"), s("+ok\n+error")),
            ]
        );
    }

    #[test]
    fn split_lines_binary_and_gaps() {
        let c = conn(
            vec![
                data(1, b"AT+YZ"),
                data(2, b"OUT\r"),
                data(3, b"\nAT+X\r\n"),
                StreamEvent::Gap { packet: 6, time: Timestamp::EPOCH, len: 3 },
            ],
            vec![data(4, b"\x01\x02\r\n"), data(5, b"+ERROR\r\n")],
        );
        let pairs = tcp_pairs(&c);
        assert_eq!(pairs.len(), 3, "{pairs:#?}");
        assert_eq!(texts(&pairs)[0].0, s("AT+YZOUT"));
        assert!(matches!(
            pairs[0].1.as_ref().unwrap().content,
            Content::Undecodable { error: MessageError::NotText, .. }
        ));
        assert_eq!(texts(&pairs)[1], (s("AT+X"), s("+ERROR")));
        assert!(matches!(
            pairs[2].0.as_ref().unwrap().content,
            Content::Undecodable { error: MessageError::Lost { bytes: 3 }, .. }
        ));
    }

    #[test]
    fn datagram_text() {
        assert_eq!(text_content(b"YZ-RECOSCAN"), Content::Text("YZ-RECOSCAN".into()));
        assert_eq!(text_content(b"+ok=a\r\nb\r\n\r\n\0"), Content::Text("+ok=a\nb".into()));
        assert!(matches!(text_content(b"\xff"), Content::Undecodable { .. }));
        let ok = datagram_message(1, Timestamp::EPOCH, b"+ok", 0);
        assert!(expects_no_reply(&ok));
        let cut = datagram_message(1, Timestamp::EPOCH, b"+o", 1);
        assert_eq!(cut.content.error(), Some(&MessageError::Missing { bytes: 1 }));
    }
}
