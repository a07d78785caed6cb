//! Hostile or broken "plugs": each failure is a one-line typed error within the timeout, and
//! never a panic or a hang. The servers here are deliberately broken, so they are written in
//! the test rather than taken from the emulator.

mod common;

use std::{
    io::{Read, Write},
    net::{TcpListener, TcpStream},
    thread,
    time::Duration,
};

use common::plugctl_with_guard;
use plugctl_proto::kasa::frame;

/// Serves every connection with `behave` on its own thread; returns `127.0.0.1:PORT`.
fn broken_plug(behave: fn(TcpStream)) -> String {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = l.local_addr().expect("addr").to_string();
    thread::spawn(move || {
        for s in l.incoming().flatten() {
            thread::spawn(move || behave(s));
        }
    });
    addr
}

/// Reads one request frame (header + payload) so the client has finished sending.
fn read_request(s: &mut TcpStream) {
    let mut h = [0u8; 4];
    if s.read_exact(&mut h).is_ok() {
        let mut p = vec![0u8; u32::from_be_bytes(h).min(65_536) as usize];
        let _ = s.read_exact(&mut p);
    }
}

fn expect_failure(addr: &str, needles: &[&str]) -> String {
    let r = plugctl_with_guard(
        &["state", addr, "--family", "kasa", "--timeout", "1", "--retries", "1"],
        Duration::from_secs(30),
    );
    assert_eq!(r.code, Some(1), "{r:?}");
    let err = r.stderr.trim().to_string();
    assert_eq!(err.lines().count(), 1, "one line expected: {err}");
    assert!(err.contains(addr), "error names the host: {err}");
    assert!(!err.contains("panicked"), "{err}");
    let lower = err.to_lowercase();
    assert!(needles.iter().any(|n| lower.contains(n)), "expected one of {needles:?} in: {err}");
    err
}

#[test]
fn oversized_length_prefix() {
    let addr = broken_plug(|mut s| {
        read_request(&mut s);
        let _ = s.write_all(&[0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4]);
        thread::sleep(Duration::from_secs(5));
    });
    expect_failure(&addr, &["cap"]);
}

#[test]
fn truncated_frame_then_close() {
    let addr = broken_plug(|mut s| {
        read_request(&mut s);
        let f = frame::encode(br#"{"system":{"get_sysinfo":{"err_code":0,"model":"HS100(US)"}}}"#);
        let _ = s.write_all(&f[..f.len() / 2]);
    });
    expect_failure(&addr, &["truncated", "closed"]);
}

#[test]
fn truncated_frame_then_silence() {
    let addr = broken_plug(|mut s| {
        read_request(&mut s);
        let f = frame::encode(br#"{"system":{"get_sysinfo":{"err_code":0,"model":"HS100(US)"}}}"#);
        let _ = s.write_all(&f[..10]);
        thread::sleep(Duration::from_secs(20));
    });
    expect_failure(&addr, &["no reply", "timed out", "timeout"]);
}

#[test]
fn non_json_payload() {
    let addr = broken_plug(|mut s| {
        read_request(&mut s);
        let _ = s.write_all(&frame::encode(b"this is not json"));
        thread::sleep(Duration::from_secs(2));
    });
    expect_failure(&addr, &["not json"]);
}

#[test]
fn silent_device() {
    let addr = broken_plug(|s| {
        thread::sleep(Duration::from_secs(20));
        drop(s);
    });
    expect_failure(&addr, &["no reply", "timed out", "timeout"]);
}

#[test]
fn reply_without_sysinfo_fields() {
    let addr = broken_plug(|mut s| {
        read_request(&mut s);
        let _ = s.write_all(&frame::encode(br#"{"system":{"get_sysinfo":{"err_code":0,"model":7}}}"#));
        thread::sleep(Duration::from_secs(2));
    });
    expect_failure(&addr, &["sysinfo"]);
}
