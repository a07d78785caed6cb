//! System commands through the binary: `location`, `reset` behind `--yes`, `reboot --delay`,
//! `brightness` on a dimmer (HS220 dump), and the alias limit in bytes.

mod common;

use std::time::{Duration, Instant};

use common::{fixture_files, plugctl, Emulator};

fn hs220() -> String {
    fixture_files()
        .into_iter()
        .find(|p| p.to_string_lossy().contains("HS220"))
        .expect("HS220 dump")
        .to_string_lossy()
        .into_owned()
}

#[test]
fn location_get_and_set() {
    for model in ["hs100-hw1", "hs110-hw4"] {
        let emu = Emulator::kasa(&["--model", model], 1);
        let t = emu.first().target();
        assert!(plugctl(&["location", &t, "--json"]).json()["latitude"].is_number());
        // Negative numbers need no `--`.
        let doc = plugctl(&["location", &t, "-33.8688", "151.2093", "--json"]).json();
        assert!((doc["latitude"].as_f64().unwrap() + 33.8688).abs() < 1e-3, "{model}: {doc}");
        assert!((doc["longitude"].as_f64().unwrap() - 151.2093).abs() < 1e-3, "{model}: {doc}");
        let text = plugctl(&["location", &t]).ok().to_string();
        assert_eq!(text.trim(), "-33.8688 151.2093");
        for bad in
            [vec!["location", &t, "91", "0"], vec!["location", &t, "10"], vec!["location", &t, "x", "y"]]
        {
            assert_eq!(plugctl(&bad).code, Some(2), "{bad:?}");
        }
    }
}

#[test]
fn reset_needs_yes_and_restores_defaults() {
    let emu = Emulator::kasa(&["--model", "hs110-hw4"], 1);
    let t = emu.first().target();
    let default_alias = plugctl(&["alias", &t]).ok().trim().to_string();
    plugctl(&["alias", &t, "Renamed"]).ok();
    plugctl(&["cloud", &t, "bind", "--user", "u@example.com", "--password", "p"]).ok();

    let r = plugctl(&["reset", &t]);
    assert_eq!(r.code, Some(2), "{r:?}");
    assert!(r.stderr.contains("Wi-Fi") && r.stderr.contains("--yes"), "{}", r.stderr);
    assert_eq!(plugctl(&["alias", &t]).ok().trim(), "Renamed", "nothing happened without --yes");
    assert_eq!(plugctl(&["reset", &t, "--yes", "--delay", "0"]).code, Some(2));

    let doc = plugctl(&["reset", &t, "--yes", "--json"]).json();
    assert_eq!(doc["reset_in_s"], 1);
    // The plug goes offline for a while, then answers with its factory settings.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let r = plugctl(&["alias", &t, "--timeout", "1", "--retries", "0"]);
        if r.code == Some(0) && r.stdout.trim() == default_alias {
            break;
        }
        assert!(Instant::now() < deadline, "no factory alias after reset: {r:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(plugctl(&["cloud", &t, "--json"]).json()["bound"], false);
}

#[test]
fn reboot_with_delay() {
    let emu = Emulator::kasa(&["--model", "kp115"], 1);
    let t = emu.first().target();
    let doc = plugctl(&["reboot", &t, "--delay", "2", "--json"]).json();
    assert_eq!(doc["reboot_in_s"], 2);
    let up = || plugctl(&["state", &t, "--timeout", "1", "--retries", "0"]).code == Some(0);
    let deadline = Instant::now() + Duration::from_secs(60);
    // Offline once the delay has passed …
    while up() {
        assert!(Instant::now() < deadline, "the plug never went offline");
        std::thread::sleep(Duration::from_millis(100));
    }
    // … and back after the simulated reboot.
    while !up() {
        assert!(Instant::now() < deadline, "the plug did not come back");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn dimmer_brightness() {
    let emu = Emulator::kasa(&["--profile", &hs220()], 1);
    let t = emu.first().target();
    let doc = plugctl(&["brightness", &t, "--json"]).json();
    assert!(doc["brightness"].as_u64().is_some_and(|b| b <= 100), "{doc}");
    plugctl(&["on", &t]).ok();
    let doc = plugctl(&["brightness", &t, "30", "--json"]).json();
    assert_eq!((doc["brightness"].clone(), doc["on"].clone()), (30.into(), true.into()), "{doc}");
    assert_eq!(plugctl(&["info", &t, "--json"]).json()["brightness"], 30);
    assert_eq!(plugctl(&["brightness", &t]).ok().trim(), "brightness 30% (on)");
    // 0 switches off and keeps the level.
    let doc = plugctl(&["brightness", &t, "0", "--json"]).json();
    assert_eq!((doc["brightness"].clone(), doc["on"].clone()), (30.into(), false.into()), "{doc}");
    assert_eq!(plugctl(&["brightness", &t, "101"]).code, Some(2));

    let plug = Emulator::kasa(&["--model", "hs110-hw4"], 1);
    let r = plugctl(&["brightness", &plug.first().target(), "50"]);
    assert_eq!(r.code, Some(1), "{r:?}");
    assert!(r.stderr.contains("not a dimmer"), "{}", r.stderr);
    assert_eq!(r.stderr.trim().lines().count(), 1, "{}", r.stderr);
}

#[test]
fn alias_limit_counts_bytes() {
    let emu = Emulator::kasa(&["--model", "hs300"], 1);
    let t = emu.first().target();
    let fits = "ü".repeat(16); // 32 bytes, 16 characters
    assert_eq!(plugctl(&["alias", &t, &fits]).ok().trim(), fits);
    let r = plugctl(&["alias", &t, &"ü".repeat(17)]); // 34 bytes, 17 characters
    assert_eq!(r.code, Some(2), "{r:?}");
    assert!(r.stderr.contains("34 bytes") && r.stderr.contains("32"), "{}", r.stderr);
    assert_eq!(plugctl(&["alias", &t]).ok().trim(), fits, "nothing sent");
    // Per outlet too.
    let r = plugctl(&["alias", &t, &"x".repeat(33), "--child", "1"]);
    assert_eq!(r.code, Some(2), "{r:?}");
    assert_eq!(plugctl(&["alias", &t, &"x".repeat(32), "--child", "1"]).ok().trim(), "x".repeat(32));
}
