//! Hostile and broken replies: every one ends in a typed error within its timeout, never a
//! panic or a hang.

mod common;

use std::time::{Duration, Instant};

use common::{quick, read_request, spawn, spawn_answering, write_reply};
use plugctl_client::{
    kasa::{DeviceErrorKind, FrameError, KasaDevice, Request, ResponseError},
    Error, Op,
};
use plugctl_proto::kasa::{cipher, frame};
use serde_json::json;
use tokio::io::AsyncWriteExt;

const TIMEOUT_MS: u64 = 400;

/// Generous upper bound for one failed query with `retries` retries.
fn guard(retries: u32) -> Duration {
    Duration::from_millis(TIMEOUT_MS * 2 * u64::from(retries + 1)) + Duration::from_secs(2)
}

/// A server that answers every request with `bytes` (written raw), then does `after`.
async fn raw_server(bytes: Vec<u8>, close_after: bool) -> common::Server {
    spawn(move |_, mut s| {
        let bytes = bytes.clone();
        async move {
            while read_request(&mut s).await.is_some() {
                if s.write_all(&bytes).await.is_err() {
                    return;
                }
                if close_after {
                    return;
                }
                // otherwise stay silent on this connection until the client gives up
            }
        }
    })
    .await
}

async fn query_err(server: &common::Server, retries: u32) -> Error {
    let dev = KasaDevice::new(server.addr, quick(TIMEOUT_MS, retries));
    let t0 = Instant::now();
    let err = dev.query(&Request::get_sysinfo()).await.unwrap_err();
    assert!(t0.elapsed() < guard(retries), "took {:?}", t0.elapsed());
    assert_eq!(err.addr(), server.addr);
    assert!(err.to_string().starts_with(&format!("{}: ", server.addr)), "{err}");
    assert_eq!(dev.stats().attempts, u64::from(retries) + 1, "{err}");
    err
}

#[tokio::test]
async fn oversized_length_prefix_is_rejected_without_waiting_or_allocating() {
    let server = raw_server(vec![0xff, 0xff, 0xff, 0xff, 1, 2, 3], false).await;
    let dev = KasaDevice::new(server.addr, quick(10_000, 0));
    let t0 = Instant::now();
    let err = dev.query(&Request::get_sysinfo()).await.unwrap_err();
    assert!(t0.elapsed() < Duration::from_secs(5), "must not wait for 4 GiB");
    assert!(
        matches!(err, Error::Frame { error: FrameError::TooLarge { announced: 4294967295, max: 65536 }, .. }),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!("{}: reply frame announces 4294967295 bytes, over the 65536-byte cap", server.addr)
    );
}

#[tokio::test]
async fn oversized_length_prefix_is_retried_then_reported() {
    let server = raw_server(b"GET / HTTP/1.1\r\n".to_vec(), false).await;
    let err = query_err(&server, 2).await;
    assert!(matches!(err, Error::Frame { error: FrameError::TooLarge { .. }, .. }), "{err:?}");
    assert_eq!(server.connections(), 3);
}

#[tokio::test]
async fn truncated_frame_then_close_is_a_truncated_error() {
    let full = frame::encode(br#"{"system":{"get_sysinfo":{"err_code":0}}}"#);
    let server = raw_server(full[..full.len() - 5].to_vec(), true).await;
    let err = query_err(&server, 0).await;
    let need = full.len();
    assert!(
        matches!(err, Error::Frame { error: FrameError::Truncated { have, need: n }, .. } if have == need - 5 && n == need),
        "{err:?}"
    );
    assert!(err.to_string().contains("truncated reply"), "{err}");
}

#[tokio::test]
async fn truncated_header_then_close_is_a_truncated_error() {
    let server = raw_server(vec![0, 0], true).await;
    let err = query_err(&server, 0).await;
    assert!(matches!(err, Error::Frame { error: FrameError::Truncated { have: 2, need: 4 }, .. }), "{err:?}");
}

#[tokio::test]
async fn truncated_frame_then_silence_times_out() {
    let full = frame::encode(br#"{"system":{"get_sysinfo":{"err_code":0}}}"#);
    let server = raw_server(full[..10].to_vec(), false).await;
    let err = query_err(&server, 0).await;
    assert!(matches!(err, Error::Timeout { op: Op::Reply, .. }), "{err:?}");
    assert_eq!(err.to_string(), format!("{}: no reply within {TIMEOUT_MS} ms", server.addr));
}

#[tokio::test]
async fn silent_device_times_out_and_each_retry_uses_a_new_connection() {
    let server = spawn(|_, mut s| async move { while read_request(&mut s).await.is_some() {} }).await;
    let err = query_err(&server, 1).await;
    assert!(
        matches!(err, Error::Timeout { op: Op::Reply, after, .. } if after == Duration::from_millis(TIMEOUT_MS))
    );
    assert!(err.is_retryable() && err.is_timeout());
    assert_eq!(server.connections(), 2);
}

#[tokio::test]
async fn non_json_payload_is_a_reply_error() {
    let server = raw_server(frame::encode(b"this is not json"), false).await;
    let err = query_err(&server, 0).await;
    assert!(matches!(err, Error::Reply { error: ResponseError::NotJson(_), .. }), "{err:?}");
    assert!(err.to_string().contains(": reply is not JSON: "), "{err}");

    // invalid UTF-8 after decryption
    let mut bad = vec![0, 0, 0, 3, 0xff, 0xfe, 0xfd];
    cipher::encrypt_in_place(&mut bad[4..]);
    let server = raw_server(bad, false).await;
    let err = query_err(&server, 0).await;
    assert!(matches!(err, Error::Reply { error: ResponseError::NotJson(_), .. }), "{err:?}");

    // JSON, but not an object
    let server = raw_server(frame::encode(b"[1,2,3]"), false).await;
    let err = query_err(&server, 0).await;
    assert!(matches!(err, Error::Reply { error: ResponseError::NotObject, .. }), "{err:?}");

    // absurd nesting
    let server = raw_server(frame::encode("[".repeat(5000).as_bytes()), false).await;
    let err = query_err(&server, 0).await;
    assert!(matches!(err, Error::Reply { error: ResponseError::NotJson(_), .. }), "{err:?}");
}

#[tokio::test]
async fn zero_length_header_is_a_frame_error() {
    let server = raw_server(vec![0, 0, 0, 0], false).await;
    let err = query_err(&server, 0).await;
    assert!(matches!(err, Error::Frame { error: FrameError::ZeroLength, .. }), "{err:?}");
}

#[tokio::test]
async fn device_error_codes_are_typed() {
    let server = spawn_answering(|_| json!({"emeter":{"err_code":-1,"err_msg":"module not support"}})).await;
    let dev = KasaDevice::new(server.addr, quick(TIMEOUT_MS, 3));
    // `query` leaves device errors to the caller
    let resp = dev.query(&Request::get_realtime()).await.unwrap();
    assert_eq!(resp.first_error().unwrap().kind(), DeviceErrorKind::ModuleNotSupported);
    // typed calls turn them into Error::Device, without retrying
    let err = dev.set_led(true).await.unwrap_err();
    assert!(matches!(err, Error::Reply { error: ResponseError::Missing(_), .. }), "{err:?}");
    let server =
        spawn_answering(|_| json!({"system":{"set_led_off":{"err_code":-3,"err_msg":"invalid argument"}}}))
            .await;
    let dev = KasaDevice::new(server.addr, quick(TIMEOUT_MS, 3));
    let err = dev.set_led(false).await.unwrap_err();
    assert_eq!(err.device_error().unwrap().kind(), DeviceErrorKind::InvalidArgument);
    assert!(!err.is_retryable());
    assert_eq!(
        err.to_string(),
        format!("{}: device error -3 on system.set_led_off: invalid argument", server.addr)
    );
    assert_eq!(dev.stats().attempts, 1);
}

#[tokio::test]
async fn fails_twice_then_answers_succeeds_on_the_third_attempt() {
    let server = spawn(|conn, mut s| async move {
        let Some(req) = read_request(&mut s).await else { return };
        match conn {
            0 => {
                let _ = s.write_all(&frame::encode(b"garbage")).await;
            }
            1 => {} // close without a reply
            _ => {
                write_reply(
                    &mut s,
                    &json!({"test":{"echo":{"n":req["test"]["echo"]["n"].clone(),"err_code":0}}}),
                )
                .await
            }
        }
    })
    .await;
    let dev = KasaDevice::new(server.addr, quick(TIMEOUT_MS, 3));
    let v = dev.query_raw(r#"{"test":{"echo":{"n":7}}}"#).await.unwrap();
    assert_eq!(v["test"]["echo"]["n"], 7);
    assert_eq!(server.connections(), 3);
    let st = dev.stats();
    assert_eq!((st.attempts, st.retries), (3, 2));
}

#[tokio::test]
async fn always_failing_device_gives_up_after_retries_plus_one_attempts() {
    let server = spawn(|_, mut s| async move {
        let _ = read_request(&mut s).await;
    })
    .await;
    let err = query_err(&server, 3).await;
    assert!(matches!(err, Error::Closed { .. }), "{err:?}");
    assert_eq!(server.connections(), 4);
}

#[tokio::test]
async fn handle_stays_usable_after_errors() {
    let server = spawn(|conn, mut s| async move {
        while let Some(req) = read_request(&mut s).await {
            if conn == 0 {
                let _ = s.write_all(&[0xff, 0xff, 0xff, 0xff]).await;
            } else {
                write_reply(
                    &mut s,
                    &json!({"test":{"echo":{"n":req["test"]["echo"]["n"].clone(),"err_code":0}}}),
                )
                .await;
            }
        }
    })
    .await;
    let dev = KasaDevice::new(server.addr, quick(TIMEOUT_MS, 0));
    assert!(dev.query_raw(r#"{"test":{"echo":{"n":1}}}"#).await.is_err());
    let v = dev.query_raw(r#"{"test":{"echo":{"n":2}}}"#).await.unwrap();
    assert_eq!(v["test"]["echo"]["n"], 2);
}
