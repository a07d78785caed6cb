//! `plugctl cloud` through the binary: info, bind, server, unbind (idempotent), and the
//! documented cloud-free recipe (unbind, then `time sync`).

mod common;

use common::{plugctl, Emulator};

#[test]
fn info_bind_server_unbind() {
    let emu = Emulator::kasa(&["--model", "kp115"], 1);
    let t = emu.first().target();

    let info = plugctl(&["cloud", &t, "--json"]).json();
    assert_eq!(info["bound"], false);
    assert_eq!(info["server"], "devs.tplinkcloud.com");
    for k in [
        "binded",
        "cld_connection",
        "fwDlPage",
        "fwNotifyType",
        "illegalType",
        "server",
        "stopConnect",
        "tcspInfo",
        "tcspStatus",
        "username",
    ] {
        assert!(info["raw"].get(k).is_some(), "{k} missing: {info}");
    }
    assert_eq!(plugctl(&["cloud", &t, "info", "--json"]).json()["bound"], false);
    let text = plugctl(&["cloud", &t]).ok().to_string();
    assert!(text.contains("bound") && text.contains("server"), "{text}");

    let b =
        plugctl(&["cloud", &t, "bind", "--user", "someone@example.com", "--password", "secret", "--json"])
            .json();
    assert_eq!(
        (b["bound"].clone(), b["username"].clone()),
        (true.into(), "someone@example.com".into()),
        "{b}"
    );
    assert_eq!(b["result"], "bound");

    let s = plugctl(&["cloud", &t, "server", "https://cloud.example.invalid/path", "--json"]).json();
    assert_eq!(s["server"], "cloud.example.invalid", "{s}");
    assert_eq!(s["bound"], true, "changing the server keeps the binding");

    let u = plugctl(&["cloud", &t, "unbind", "--json"]).json();
    assert_eq!((u["bound"].clone(), u["result"].clone()), (false.into(), "unbound".into()), "{u}");
    assert_eq!(u["username"], "");
    // Unbinding again is fine (the device would answer -4002).
    let again = plugctl(&["cloud", &t, "unbind", "--json"]).json();
    assert_eq!(again["result"], "was not bound");
    let text = plugctl(&["cloud", &t, "unbind"]).ok().to_string();
    assert!(text.contains("was not bound"), "{text}");
}

#[test]
fn cloud_free_recipe() {
    // The README recipe: unbind, then keep the clock right with `time sync`.
    let emu = Emulator::kasa(&["--model", "hs300"], 1);
    let t = emu.first().target();
    plugctl(&["cloud", &t, "bind", "--user", "u@example.com", "--password", "p"]).ok();
    plugctl(&["time", &t, "set", "--at", "2016-01-01 00:00", "--index", "6"]).ok();
    plugctl(&["cloud", &t, "unbind"]).ok();
    let synced = plugctl(&["time", &t, "sync", "--zone", "Europe/Berlin", "--json"]).json();
    assert_eq!(synced["index"], 41);
    assert!(synced["drift_s"].as_i64().unwrap().abs() <= 5, "{synced}");
    let c = plugctl(&["cloud", &t, "--json"]).json();
    assert_eq!((c["bound"].clone(), c["connected"].clone()), (false.into(), false.into()), "{c}");
}

#[test]
fn mistakes() {
    let emu = Emulator::kasa(&["--model", "hs300"], 1);
    let t = emu.first().target();
    for bad in [
        vec!["cloud", &t, "bind", "--user", "u@example.com"],
        vec!["cloud", &t, "bind", "--user", "", "--password", "p"],
        vec!["cloud", &t, "server", "https://"],
        vec!["cloud", &t, "info", "--child", "1"],
        vec!["cloud", &t, "frobnicate"],
    ] {
        let r = plugctl(&bad);
        assert_eq!(r.code, Some(2), "{bad:?}: {r:?}");
    }
    let hf = Emulator::hf(&[], 1);
    let d = hf.first();
    let r = plugctl(&["cloud", &d.target(), "--family", "hf", "--udp-port", &d.udp_port()]);
    assert_eq!(r.code, Some(1), "{r:?}");
    assert!(r.stderr.contains("Hi-Flying"), "{}", r.stderr);
}
