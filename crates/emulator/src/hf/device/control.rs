//! TCP 8899 control commands (hf-protocol.md §2, §5.2 rules 4–8, 10).
//!
//! - `AT+YZSWITCH`: the outlet must be 1..=outlets, else `+ERROR`; the timestamp is not
//!   checked (a 12/14-digit one is recorded as "last client time"); switch, reply `+ok`.
//!   A pending delay of the outlet is **not** cancelled \[G\].
//! - `AT+YZDELAY`: minutes 1..=2000 (checked by the parser); one pending delay per outlet,
//!   replaced by a newer one \[G\]; the relay switches when the simulated delay ends.
//! - `AT+YZOUT`: `+ok=I,U,F,P,PQ,E,EQ`.
//! - anything else: `+ERROR`.
//!
//! Replies end with the configured line ending; with the captured quirk on, a successful
//! switch OFF is answered `+ok\r\n+error`.

use std::time::Instant;

use plugctl_proto::hf::{
    command::Outlet, parse_segment, reply::CAPTURED_QUIRK_TRAILER, ControlRequest, LineEnding, Reply,
};

use super::{PendingDelay, PlugState};

impl PlugState {
    /// Answers one control request; `None` while the plug reboots (the connection should be
    /// dropped).
    pub fn handle_control(&mut self, req: &ControlRequest, now: Instant) -> Option<Vec<u8>> {
        if self.booting {
            return None;
        }
        self.advance(now);
        if let Some(t) = req.client_time() {
            self.last_client_time = Some(t);
        }
        let (reply, quirk) = match req {
            ControlRequest::Switch { outlet, on, .. } => match self.outlet_index(*outlet) {
                Some(i) => {
                    self.switch(i, *on);
                    (Reply::Ok, !*on && self.cfg.captured_quirk)
                }
                None => (Reply::Error, false),
            },
            ControlRequest::Delay { outlet, on, minutes, .. } => match self.outlet_index(*outlet) {
                Some(i) => {
                    let due = self.clock.sim() + f64::from(minutes.get()) * 60.0;
                    if let Some(slot) = self.delays.get_mut(i) {
                        *slot = Some(PendingDelay { on: *on, due });
                    }
                    (Reply::Ok, false)
                }
                None => (Reply::Error, false),
            },
            ControlRequest::Measure => (Reply::OkValue(self.meter.raw().to_value()), false),
            ControlRequest::Unknown(_) => (Reply::Error, false),
        };
        let mut text = reply.to_wire();
        if quirk {
            text.push_str(CAPTURED_QUIRK_TRAILER);
        }
        Some(match self.cfg.line_ending {
            LineEnding::CrLf => format!("{text}\r\n").into_bytes(),
            LineEnding::None => text.into_bytes(),
        })
    }

    /// Answers every command of one received segment (device semantics: lines, and a last
    /// line without terminator, are commands), one reply each.
    pub fn handle_segment(&mut self, segment: &[u8], now: Instant) -> Vec<Vec<u8>> {
        parse_segment(segment).iter().filter_map(|r| self.handle_control(r, now)).collect()
    }

    fn outlet_index(&self, outlet: Outlet) -> Option<usize> {
        let n = usize::from(outlet.get());
        (n <= self.relays.len()).then(|| n - 1)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::hf::config::{MeterConfig, PlugConfig};

    fn plug(cfg: PlugConfig) -> PlugState {
        PlugState::new(cfg).unwrap()
    }

    fn say(p: &mut PlugState, s: &str, now: Instant) -> String {
        let r = p.handle_segment(s.as_bytes(), now);
        r.iter().map(|b| String::from_utf8_lossy(b).into_owned()).collect()
    }

    #[test]
    fn reference_vectors() {
        let mut p = plug(PlugConfig { meter: MeterConfig::captured(), ..PlugConfig::default() });
        let t = Instant::now();
        assert_eq!(say(&mut p, "AT+YZSWITCH=1,ON,201704031153\r\n", t), "+ok\r\n");
        assert_eq!(say(&mut p, "AT+YZOUT\r\n", t), "+ok=3,22694,5007,0,0,3548,0\r\n");
        assert_eq!(say(&mut p, "AT+YZDELAY=1,ON,5,201805011200\r\n", t), "+ok\r\n");
        assert_eq!(say(&mut p, "HELLO\r\n", t), "+ERROR\r\n");
        assert_eq!(p.last_client_time().map(|t| t.to_string()).as_deref(), Some("201805011200"));
    }

    #[test]
    fn outlets_line_endings_and_quirk() {
        let mut p =
            plug(PlugConfig { captured_quirk: true, line_ending: LineEnding::None, ..PlugConfig::default() });
        let t = Instant::now();
        assert_eq!(say(&mut p, "AT+YZSWITCH=2,ON,1", t), "+ERROR");
        assert_eq!(say(&mut p, "AT+YZDELAY=2,ON,5,1", t), "+ERROR");
        assert_eq!(say(&mut p, "AT+YZSWITCH=1,on,time", t), "+ok");
        assert_eq!(p.relay(1), Some(true));
        assert_eq!(say(&mut p, "AT+YZSWITCH=1,OFF,x", t), "+ok\r\n+error");
        assert_eq!(p.relay(1), Some(false));
        let mut two = plug(PlugConfig { outlets: 2, ..PlugConfig::default() });
        assert_eq!(say(&mut two, "AT+YZSWITCH=2,ON,1\r\n", t), "+ok\r\n");
        assert_eq!((two.relay(1), two.relay(2), two.relay(3)), (Some(false), Some(true), None));
    }

    #[test]
    fn delay_switches_at_the_simulated_due_time() {
        let mut p = plug(PlugConfig { time_scale: 60.0, ..PlugConfig::default() });
        let t0 = Instant::now();
        p.tick(t0);
        assert_eq!(say(&mut p, "AT+YZDELAY=1,ON,2,201805011200", t0), "+ok\r\n");
        let due = p.next_due().unwrap();
        assert_eq!(due, t0 + Duration::from_secs(2));
        assert!(p.tick(t0 + Duration::from_millis(1990)).is_empty());
        assert_eq!(p.relay(1), Some(false));
        let fired = p.tick(t0 + Duration::from_secs(3));
        assert_eq!(fired, vec![super::super::DelayFired { outlet: 1, on: true }]);
        assert_eq!(p.relay(1), Some(true));
        assert_eq!(p.next_due(), None);
        // a newer delay replaces the pending one; YZSWITCH does not cancel it
        say(&mut p, "AT+YZDELAY=1,OFF,10,1", t0 + Duration::from_secs(3));
        say(&mut p, "AT+YZDELAY=1,OFF,1,1", t0 + Duration::from_secs(3));
        say(&mut p, "AT+YZSWITCH=1,ON,1", t0 + Duration::from_secs(3));
        p.tick(t0 + Duration::from_secs(5));
        assert_eq!(p.relay(1), Some(false));
    }

    #[test]
    fn energy_integrates_exactly_across_a_delayed_switch() {
        let meter = MeterConfig { noise: false, energy_wh: Some(0.0), ..MeterConfig::load_w(100.0, 1.0) };
        let mut p = plug(PlugConfig { meter, time_scale: 3600.0, relay_on: true, ..PlugConfig::default() });
        let t0 = Instant::now();
        p.tick(t0);
        // off after 30 simulated minutes, observed only 1 simulated hour later
        say(&mut p, "AT+YZDELAY=1,OFF,30,1", t0);
        let r = p.reading(t0 + Duration::from_secs(1));
        assert_eq!((r.e, r.p, r.i), (50, 0, 0));
        assert_eq!(r.u, 23_000);
    }
}
