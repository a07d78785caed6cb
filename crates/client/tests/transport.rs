//! The TCP transport of `KasaDevice`: framing, segmentation, persistent connections,
//! transparent reconnects, refusal, one request in flight.

mod common;

use std::{
    sync::{
        atomic::{AtomicBool, AtomicUsize, Ordering},
        Arc,
    },
    time::Duration,
};

use common::{quick, read_request, spawn, spawn_answering, write_reply};
use plugctl_client::{
    kasa::{ClientConfig, KasaDevice, Request},
    Error,
};
use plugctl_proto::kasa::frame;
use serde_json::{json, Value};
use tokio::{io::AsyncWriteExt, net::TcpListener};

fn echo(req: &Value) -> Value {
    json!({"test":{"echo":{"n":req["test"]["echo"]["n"].clone(),"err_code":0}}})
}

#[tokio::test]
async fn happy_path_query_on_one_persistent_connection() {
    let server = spawn_answering(|req| {
        assert_eq!(req, &json!({"system":{"get_sysinfo":{}}}));
        json!({"system":{"get_sysinfo":{"model":"HS100(US)","mac":"50:C7:BF:00:00:01","alias":"Desk","relay_state":1,"err_code":0}}})
    })
    .await;
    let dev = KasaDevice::new(server.addr, quick(2000, 0));
    for _ in 0..5 {
        let resp = dev.query(&Request::get_sysinfo()).await.unwrap();
        assert_eq!(resp.result("system", "get_sysinfo").unwrap()["alias"], "Desk");
    }
    let info = dev.sysinfo().await.unwrap();
    assert!(info.is_on());
    assert_eq!(server.connections(), 1);
    let st = dev.stats();
    assert_eq!((st.connections, st.requests, st.attempts, st.retries), (1, 6, 6, 0));
}

#[tokio::test]
async fn reply_written_in_one_byte_pieces() {
    let server = spawn(|_, mut s| async move {
        while let Some(req) = read_request(&mut s).await {
            let reply = echo(&req).to_string();
            for b in frame::encode(reply.as_bytes()) {
                if s.write_all(&[b]).await.is_err() {
                    return;
                }
                s.flush().await.ok();
                tokio::task::yield_now().await;
            }
        }
    })
    .await;
    let dev = KasaDevice::new(server.addr, quick(5000, 0));
    for n in 0..3 {
        let v = dev.query_raw(&json!({"test":{"echo":{"n":n}}}).to_string()).await.unwrap();
        assert_eq!(v["test"]["echo"]["n"], n);
    }
    assert_eq!(server.connections(), 1);
}

#[tokio::test]
async fn device_that_closes_after_every_reply_is_reconnected_transparently() {
    let server = spawn(|_, mut s| async move {
        if let Some(req) = read_request(&mut s).await {
            write_reply(&mut s, &echo(&req)).await;
        }
        // dropping `s` closes the connection, like old HS110 hw1 firmware
    })
    .await;
    let dev = KasaDevice::new(server.addr, quick(2000, 0)); // no retries: reconnects must be free
    const N: u64 = 10;
    for n in 0..N {
        let v = dev.query_raw(&json!({"test":{"echo":{"n":n}}}).to_string()).await.unwrap();
        assert_eq!(v["test"]["echo"]["n"], n);
    }
    assert_eq!(server.connections() as u64, N);
    let st = dev.stats();
    assert_eq!(st.retries, 0);
    assert_eq!(st.reconnects, N - 1);
    assert_eq!(st.connections, N);
}

#[tokio::test]
async fn kept_connection_closed_as_the_request_arrives_is_resent_once_for_free() {
    // The device answers the first request, then drops the connection on reading the next
    // one (the close races with the client's write, so the client only sees EOF after
    // sending).
    let server = spawn(|_, mut s| async move {
        if let Some(req) = read_request(&mut s).await {
            write_reply(&mut s, &echo(&req)).await;
        }
        let _ = read_request(&mut s).await;
    })
    .await;
    let dev = KasaDevice::new(server.addr, quick(2000, 0));
    for n in 0..4 {
        let v = dev.query_raw(&json!({"test":{"echo":{"n":n}}}).to_string()).await.unwrap();
        assert_eq!(v["test"]["echo"]["n"], n);
    }
    let st = dev.stats();
    assert_eq!((st.retries, st.reconnects, st.connections), (0, 3, 4));
    assert_eq!(server.connections(), 4);
}

#[tokio::test]
async fn fresh_connection_closed_without_reply_is_an_error() {
    let server = spawn(|_, mut s| async move {
        let _ = read_request(&mut s).await;
    })
    .await;
    let dev = KasaDevice::new(server.addr, quick(2000, 0));
    let err = dev.query(&Request::get_sysinfo()).await.unwrap_err();
    assert!(matches!(err, Error::Closed { addr } if addr == server.addr), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!("{}: connection closed by the device before it replied", server.addr)
    );
    assert_eq!(server.connections(), 1);
}

#[tokio::test]
async fn refused_port_fails_at_once_with_one_connect_attempt() {
    // A port that was free a moment ago and has no listener now.
    let addr = TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap();
    let cfg = ClientConfig { backoff: Duration::from_secs(5), ..ClientConfig::default() };
    let dev = KasaDevice::new(addr, cfg);
    // With a 5 s back-off, a retry would also show in the counters below.
    let err = dev.query(&Request::get_sysinfo()).await.unwrap_err();
    assert!(matches!(err, Error::Refused { .. }), "{err:?}");
    assert!(!err.is_retryable());
    assert_eq!(err.to_string(), format!("{addr}: connection refused"));
    let st = dev.stats();
    assert_eq!((st.connect_attempts, st.connections, st.attempts, st.retries), (1, 0, 1, 0));
}

#[tokio::test]
async fn unsolicited_bytes_after_a_reply_force_a_fresh_connection() {
    let server = spawn(|conn, mut s| async move {
        while let Some(req) = read_request(&mut s).await {
            write_reply(&mut s, &echo(&req)).await;
            if conn == 0 {
                // a stray second reply: must never be taken for the answer to the next request
                write_reply(&mut s, &json!({"test":{"echo":{"n":"stale","err_code":0}}})).await;
            }
        }
    })
    .await;
    let dev = KasaDevice::new(server.addr, quick(2000, 0));
    let v = dev.query_raw(r#"{"test":{"echo":{"n":1}}}"#).await.unwrap();
    assert_eq!(v["test"]["echo"]["n"], 1);
    tokio::time::sleep(Duration::from_millis(50)).await; // let the stray bytes arrive
    let v = dev.query_raw(r#"{"test":{"echo":{"n":2}}}"#).await.unwrap();
    assert_eq!(v["test"]["echo"]["n"], 2);
    assert_eq!(server.connections(), 2);
}

#[tokio::test]
async fn concurrent_queries_are_serialised_on_one_connection() {
    let overlap = Arc::new(AtomicBool::new(false));
    let served = Arc::new(AtomicUsize::new(0));
    let (o, c) = (overlap.clone(), served.clone());
    let server = spawn(move |_, mut s| {
        let (overlap, served) = (o.clone(), c.clone());
        async move {
            while let Some(req) = read_request(&mut s).await {
                // Give a pipelining client the chance to send the next request early.
                tokio::time::sleep(Duration::from_millis(2)).await;
                let mut probe = [0u8; 1];
                if !matches!(s.try_read(&mut probe), Err(ref e) if e.kind() == std::io::ErrorKind::WouldBlock)
                {
                    overlap.store(true, Ordering::SeqCst);
                }
                served.fetch_add(1, Ordering::SeqCst);
                write_reply(&mut s, &echo(&req)).await;
            }
        }
    })
    .await;
    let dev = Arc::new(KasaDevice::new(server.addr, quick(10_000, 0)));
    let tasks: Vec<_> = (0..40)
        .map(|n| {
            let dev = dev.clone();
            tokio::spawn(async move {
                let req = Request::new().with("test", "echo", json!({ "n": n }));
                let resp = dev.query(&req).await.unwrap();
                assert_eq!(resp.result("test", "echo").unwrap()["n"], n, "reply matched to its request");
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    assert!(!overlap.load(Ordering::SeqCst), "a second request was sent before the first reply");
    assert_eq!(served.load(Ordering::SeqCst), 40);
    assert_eq!(server.connections(), 1);
}

#[tokio::test]
async fn query_raw_returns_the_reply_verbatim_and_checks_its_input() {
    let reply = json!({"emeter":{"err_code":-1,"err_msg":"module not support"},"x":[1,2,{"y":null}]});
    let r = reply.clone();
    let server = spawn_answering(move |_| r.clone()).await;
    let dev = KasaDevice::new(server.addr, quick(2000, 0));
    assert_eq!(dev.query_raw(r#"{ "emeter" : { "get_realtime" : null } }"#).await.unwrap(), reply);

    let err = dev.query_raw("{emeter:{}}").await.unwrap_err();
    assert!(matches!(err, Error::InvalidArgument { .. }), "{err:?}");
    let huge = format!(r#"{{"a":"{}"}}"#, "x".repeat(70_000));
    assert!(matches!(dev.query_raw(&huge).await, Err(Error::InvalidArgument { .. })));
    assert_eq!(dev.stats().requests, 1, "invalid requests are never sent");
}

#[tokio::test]
async fn a_cancelled_query_never_hands_its_late_reply_to_the_next_one() {
    let server = spawn(|_, mut s| async move {
        while let Some(req) = read_request(&mut s).await {
            if req["test"]["echo"]["n"] == 1 {
                tokio::time::sleep(Duration::from_millis(300)).await; // slow reply
            }
            write_reply(&mut s, &echo(&req)).await;
        }
    })
    .await;
    let dev = KasaDevice::new(server.addr, quick(5000, 0));
    let cancelled =
        tokio::time::timeout(Duration::from_millis(50), dev.query_raw(r#"{"test":{"echo":{"n":1}}}"#));
    assert!(cancelled.await.is_err(), "the caller gave up first");
    // Sent while the device is still working on request 1: on the old connection, the late
    // reply to 1 would be read as the answer to 2.
    let v = dev.query_raw(r#"{"test":{"echo":{"n":2}}}"#).await.unwrap();
    assert_eq!(v["test"]["echo"]["n"], 2);
    assert_eq!(server.connections(), 2);
}

#[tokio::test]
async fn extreme_config_values_do_not_panic() {
    let server = spawn_answering(echo).await;
    let cfg = ClientConfig {
        timeout: Duration::MAX,
        retries: u32::MAX,
        backoff: Duration::MAX,
        max_backoff: Duration::MAX,
        max_frame: usize::MAX,
        klap: None,
    };
    let dev = KasaDevice::new(server.addr, cfg);
    let v = dev.query_raw(r#"{"test":{"echo":{"n":3}}}"#).await.unwrap();
    assert_eq!(v["test"]["echo"]["n"], 3);
}

#[test]
fn handles_and_futures_can_cross_threads() {
    fn send_sync<T: Send + Sync>(_: &T) {}
    fn send<T: Send>(_: T) {}
    let dev = KasaDevice::new("127.0.0.1:9".parse().unwrap(), ClientConfig::default());
    send_sync(&dev);
    let req = Request::get_sysinfo();
    send(dev.query(&req));
    send(dev.query_raw("{}"));
    send(dev.sysinfo());
    send(dev.set_power(true, Some("1")));
    send(dev.toggle(None));
    send(dev.energy(None));
    send(dev.set_alias("x", None));
    send(dev.set_led(true));
    send(dev.reboot(1));
    send(dev.close());
}
