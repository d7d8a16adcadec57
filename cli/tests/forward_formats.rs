//! Forward-secure mode (`--state`, `state = …`) for the formats the CLI renders itself
//! (lighttpd, h2o) and the seed formats (go, go-json, caddy): every file is byte for byte what
//! the independent Python reference computes from the state's seed (stek_reference.py with
//! tests/cross/forward_independent.py: hashlib alone), for a state that starts exactly at the
//! oldest key the target needs; a state one interval later is refused with nothing written;
//! lighttpd's early publication of the next key, Caddy's repair check (its own previous file is
//! not "Caddy rotated", a Caddy rotation and a foreign file are) and `keywheel run` targets read
//! back fresh by `status` and `check`.

#![allow(clippy::unwrap_used)]

mod common;

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use common::stek::{Query, StekFixture, files, reference};
use common::*;
use serde_json::Value;

/// 2025-06-15T15:20:34Z: 1234 s into interval 486111 of 3600 s, before lighttpd's early
/// publication of the next key (W(486112) = 1750003104).
const T: u64 = 1_750_001_234;

/// A new state starting at `start` in `f` (file `name`), and its seed (for the reference).
fn new_state(f: &StekFixture, name: &str, start: u64) -> Vec<u8> {
    let seed_file = f.path(&format!("{name}.seed"));
    let _ = fs::remove_file(&seed_file);
    let _ = fs::remove_file(f.path(name));
    keywheel(&[
        "state",
        "new",
        &f.arg(name),
        "--start",
        &start.to_string(),
        "--write-seed",
        seed_file.to_str().unwrap(),
    ])
    .assert_ok();
    fs::read(&seed_file).unwrap()
}

/// The oldest second a ticket target needs at `now`: the start of key `c − keep`.
fn floor(interval: u64, keep: u64, now: u64) -> u64 {
    (now / interval - keep) * interval
}

fn fs_query(seed: &[u8], format: &str, label: &str, interval: u64, keep: u64, now: u64) -> Query {
    let mut q = Query::new(format, label, interval, keep, now);
    q.seed = Some(seed.to_vec());
    q
}

/// `keywheel stek --format F --state STATE --time NOW` into `out`.
fn stek(q: &Query, state: &str, out: &str, extra: &[&str]) -> Run {
    let (interval, keep, now) = (
        q.interval.to_string(),
        q.keep.to_string(),
        q.now.to_string(),
    );
    let mut args = vec![
        "stek",
        "--format",
        &q.format,
        "--label",
        &q.label,
        "--state",
        state,
        "--interval",
        &interval,
        "--keep",
        &keep,
        "--out",
        out,
        "--time",
        &now,
    ];
    args.extend_from_slice(extra);
    keywheel(&args)
}

/// The file of an answer's path under `out` ("" is `out` itself).
fn installed(out: &Path, rel: &str) -> Vec<u8> {
    let p = if rel.is_empty() {
        out.to_owned()
    } else {
        out.join(rel)
    };
    fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

const FORMATS: [&str; 5] = ["lighttpd", "h2o", "go", "go-json", "caddy"];

/// (format, label, interval, keep, now) of the byte-for-byte cases.
fn cases() -> Vec<(&'static str, &'static str, u64, u64, u64)> {
    let mut v = Vec::new();
    for format in FORMATS {
        v.push((format, "www", 3600, 1, T));
        v.push((format, "ünïcode λ", 86_400, 0, 1_700_000_001));
    }
    v.push(("h2o", "www", 7200, 3, T));
    v.push(("go", "www", 600, 5, T));
    v.push(("go-json", "www", 10, 2, 1_000_123));
    v.push(("caddy", "www", 43_200, 2, T));
    v
}

#[test]
fn every_format_from_a_state_matches_the_reference() {
    let f = StekFixture::new();
    let mut seeds = Vec::new();
    let mut queries = Vec::new();
    for (i, &(format, label, interval, keep, now)) in cases().iter().enumerate() {
        // A state that starts exactly at the oldest key the window needs.
        let seed = new_state(&f, &format!("s{i}.state"), floor(interval, keep, now));
        queries.push(fs_query(&seed, format, label, interval, keep, now));
        seeds.push(seed);
    }
    let answers = reference(&queries);
    for (i, (q, answer)) in queries.iter().zip(&answers).enumerate() {
        let out = f.path(&format!("out{i}"));
        let r = stek(
            q,
            &f.arg(&format!("s{i}.state")),
            out.to_str().unwrap(),
            &[],
        );
        r.assert_ok();
        let want = files(answer);
        assert_eq!(want.len(), 1, "{q:?}");
        for (rel, bytes) in &want {
            assert_eq!(&installed(&out, rel), bytes, "{q:?}");
        }
        if q.format == "lighttpd" {
            let mtime = u64::try_from(fs::metadata(&out).unwrap().mtime()).unwrap();
            assert_eq!(mtime, answer["mtime"].as_u64().unwrap(), "{q:?}");
        }
        // In main-key mode the same label gives other keys: the files are the state's.
        let mut main = q.clone();
        main.seed = None;
        let main_answer = &reference(std::slice::from_ref(&main))[0];
        assert_ne!(files(main_answer), want, "{q:?}");
    }
}

#[test]
fn a_state_past_the_window_is_refused_and_nothing_is_written() {
    let f = StekFixture::new();
    for format in FORMATS {
        let (interval, keep) = (3600, 1);
        // One interval too late: key c − keep is punctured.
        new_state(&f, "late.state", floor(interval, keep, T) + interval);
        let q = Query::new(format, "www", interval, keep, T);
        let out = f.arg(&format!("late-{format}"));
        let r = stek(&q, &f.arg("late.state"), &out, &[]);
        assert_eq!(r.code, Some(1), "{format}: {r:#?}");
        assert!(
            r.stderr.contains(": it was punctured"),
            "{format}: {}",
            r.stderr
        );
        assert!(!Path::new(&out).exists(), "{format}: {out} was written");
    }
}

#[test]
fn lighttpd_publishes_the_next_key_from_the_state() {
    let f = StekFixture::new();
    let (interval, keep) = (3600, 1);
    let seed = new_state(&f, "l.state", floor(interval, keep, T));
    let q = fs_query(&seed, "lighttpd", "www", interval, keep, T);
    let answer = &reference(std::slice::from_ref(&q))[0];
    let publish = answer["publish"].as_u64().unwrap();
    let out = f.arg("lighttpd.stek");
    stek(&q, &f.arg("l.state"), &out, &[]).assert_ok();
    assert_eq!(fs::read(&out).unwrap(), files(answer)[""]);
    // At W(c + 1), with the same state (it still starts at c − keep), the file gets key c + 1.
    let mut at = q.clone();
    at.now = publish;
    stek(&at, &f.arg("l.state"), &out, &[]).assert_ok();
    assert_eq!(
        fs::read(&out).unwrap(),
        unhex(answer["next"].as_str().unwrap())
    );
}

// --- Caddy's repair check ---------------------------------------------------------------------

/// A `stek.bin` as Go's gob writes it (SERVERS.md: the 135 bytes of type definitions, then one
/// value message), written here from the documented wire format.
fn caddy_file(seeds: &[Vec<u8>], last: u64, next: u64) -> Vec<u8> {
    fn uint(v: u64, out: &mut Vec<u8>) {
        if v < 0x80 {
            out.push(u8::try_from(v).unwrap());
        } else {
            let b = v.to_be_bytes();
            let skip = b.iter().take_while(|&&x| x == 0).count();
            out.push(u8::try_from(256 - (8 - skip)).unwrap());
            out.extend_from_slice(&b[skip..]);
        }
    }
    let time = |t: u64, out: &mut Vec<u8>| {
        out.extend_from_slice(&[1, 0x0f, 1]);
        out.extend_from_slice(&(t + 62_135_596_800).to_be_bytes());
        out.extend_from_slice(&[0, 0, 0, 0, 0xff, 0xff]);
    };
    let mut body = vec![0xff, 0x82, 1];
    uint(seeds.len() as u64, &mut body);
    for s in seeds {
        body.push(0x20);
        for &b in s {
            uint(u64::from(b), &mut body);
        }
    }
    time(last, &mut body);
    time(next, &mut body);
    body.push(0);
    let mut file = unhex(
        "4bff810301010f64697374726962757465645354454b01ff8200010301044b65797301ff8600010c4c61\
         7374526f746174696f6e01ff8800010c4e657874526f746174696f6e01ff880000001aff850201010b5b\
         5d5b33325d75696e743801ff860001ff8400000eff83010102ff840001060140000010ff870501010454\
         696d6501ff88000000",
    );
    assert_eq!(file.len(), 135);
    uint(body.len() as u64, &mut file);
    file.extend_from_slice(&body);
    file
}

#[test]
fn caddy_repair_check_in_forward_secure_mode() {
    const ROTATED: &str = "showed that Caddy had rotated on its own";
    const FOREIGN: &str = "held no key of keywheel's";
    let interval = 3600;
    for keep in [0, 1, 2] {
        let f = StekFixture::new();
        let prev_time = T - interval;
        // The state as a daemon holds it when it rotates at T: advanced, after its previous
        // rotation, to the oldest key then needed (it advances again only after installing).
        let seed = new_state(&f, "c.state", floor(interval, keep, prev_time));
        let state = f.arg("c.state");
        let root = f.path("root");
        let q = fs_query(&seed, "caddy", "www", interval, keep, T);
        let mut prev = q.clone();
        prev.now = prev_time;
        let answers = reference(&[q.clone(), prev.clone()]);
        let stek_bin = root.join("stek/stek.bin");

        // keywheel's own previous file is outdated, not a Caddy rotation: rewritten quietly.
        stek(&prev, &state, root.to_str().unwrap(), &[]).assert_ok();
        assert_eq!(
            fs::read(&stek_bin).unwrap(),
            files(&answers[1])["stek/stek.bin"]
        );
        let r = stek(&q, &state, root.to_str().unwrap(), &[]);
        r.assert_ok();
        assert!(
            !r.stderr.contains(ROTATED) && !r.stderr.contains(FOREIGN),
            "keep {keep}: keywheel's previous file taken for Caddy's: {}",
            r.stderr
        );
        assert_eq!(
            fs::read(&stek_bin).unwrap(),
            files(&answers[0])["stek/stek.bin"]
        );

        // Caddy rotated on its own on top of keywheel's previous file: a random key first,
        // NextRotation 12 h on. Detected, rewritten.
        let prev_seeds: Vec<Vec<u8>> = answers[1]["seeds"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| unhex(s.as_str().unwrap()))
            .collect();
        let mut rotated = vec![vec![0xc3u8; 32]];
        rotated.extend(prev_seeds.iter().cloned());
        fs::write(&stek_bin, caddy_file(&rotated, T - 7, T - 7 + 43_200)).unwrap();
        let r = stek(&q, &state, root.to_str().unwrap(), &[]);
        assert!(r.stderr.contains(ROTATED), "keep {keep}: {}", r.stderr);
        assert_eq!(
            fs::read(&stek_bin).unwrap(),
            files(&answers[0])["stek/stek.bin"]
        );

        // A file with none of keywheel's keys (another label or seed, or Caddy's own).
        fs::write(
            &stek_bin,
            caddy_file(&[vec![1u8; 32], vec![0x99u8; 32]], T - 7, T - 7 + 43_200),
        )
        .unwrap();
        let r = stek(&q, &state, root.to_str().unwrap(), &[]);
        assert!(r.stderr.contains(FOREIGN), "keep {keep}: {}", r.stderr);
        assert_eq!(
            fs::read(&stek_bin).unwrap(),
            files(&answers[0])["stek/stek.bin"]
        );
    }
}

// --- keywheel run, status, check -----------------------------------------------------------------

fn kw(args: &[&str]) -> (i32, String, String) {
    let r = keywheel(args);
    (r.code.unwrap_or(-1), r.stdout, r.stderr)
}

#[test]
#[cfg_attr(
    not(debug_assertions),
    ignore = "KEYWHEEL_FAKE_NOW_FILE is a hook of debug builds; run without --release"
)]
fn run_targets_from_a_state_are_written_and_read_back() {
    let f = StekFixture::new();
    // keep 2 for h2o: the state must reach key c − 2 (the lowest floor of the targets).
    let seed = new_state(&f, "run.state", floor(3600, 2, T));
    let outs = [
        ("lighttpd", 1, f.arg("lighttpd.stek")),
        ("h2o", 2, f.arg("h2o.yaml")),
        ("go", 1, f.arg("seeds.bin")),
        ("go-json", 1, f.arg("seeds.json")),
        ("caddy", 1, f.arg("caddy-root")),
    ];
    let mut config = format!(
        "state = \"{}\"\nstate_dir = \"{}\"\n",
        f.arg("run.state"),
        f.arg("work")
    );
    for (format, keep, out) in &outs {
        config.push_str(&format!(
            "[[stek]]\nname = \"{format}\"\nformat = \"{format}\"\nlabel = \"www\"\n\
             keep = {keep}\nout = \"{out}\"\n"
        ));
    }
    fs::create_dir(f.path("work")).unwrap();
    let config_path = f.path("keywheel.toml");
    fs::write(&config_path, config).unwrap();
    let config = config_path.to_str().unwrap();
    let queries: Vec<Query> = outs
        .iter()
        .map(|(format, keep, _)| fs_query(&seed, format, "www", 3600, *keep, T))
        .collect();
    let answers = reference(&queries);
    let now = f.path("now");
    fs::write(&now, T.to_string()).unwrap();
    let mut cmd = command(KEYWHEEL);
    cmd.args(["run", "--config", config, "--once"])
        .env("KEYWHEEL_FAKE_NOW_FILE", &now);
    run(cmd).assert_ok();
    for ((format, _, out), answer) in outs.iter().zip(&answers) {
        for (rel, bytes) in files(answer) {
            assert_eq!(installed(Path::new(out), &rel), bytes, "{format}");
        }
    }

    // status reads every file back: fresh, with the reference's key names in file order.
    let (code, json, err) = kw(&[
        "status",
        "--config",
        config,
        "--json",
        "--time",
        &T.to_string(),
    ]);
    assert_eq!(code, 0, "{err}");
    let st: Value = serde_json::from_str(&json).unwrap();
    let targets = st["targets"].as_array().unwrap();
    assert_eq!(targets.len(), outs.len());
    for (t, ((format, _, _), answer)) in targets.iter().zip(outs.iter().zip(&answers)) {
        assert_eq!(t["format"], *format);
        assert_eq!(t["state"], "fresh", "{format}: {json}");
        let names: Vec<String> = match *format {
            "lighttpd" => vec![hex(&files(answer)[""][12..28])],
            "h2o" => String::from_utf8(files(answer)[""].clone())
                .unwrap()
                .lines()
                .filter_map(|l| l.strip_prefix("- name: "))
                .map(str::to_owned)
                .collect(),
            _ => answer["names"]
                .as_array()
                .unwrap()
                .iter()
                .map(|n| n.as_str().unwrap().to_owned())
                .collect(),
        };
        assert_eq!(t["installed_names"], Value::from(names), "{format}");
    }
    let (code, out, err) = kw(&["check", "--config", config, "--time", &T.to_string()]);
    assert_eq!(code, 0, "{out}{err}");
    // Nothing rewritten for an interval: every target is stale and check fails.
    let later = (T + 3600).to_string();
    let (code, text, _) = kw(&["check", "--config", config, "--time", &later]);
    assert_ne!(code, 0, "{text}");
}

#[test]
#[cfg_attr(
    not(debug_assertions),
    ignore = "KEYWHEEL_FAKE_NOW_FILE is a hook of debug builds; run without --release"
)]
fn the_daemon_rotates_caddy_and_h2o_from_its_state_and_then_advances_it() {
    use common::daemon::Daemon;
    use std::time::Duration;

    // keep 0: the state reaches back to the current key only, so Caddy's previous file (whose
    // first seed is the previous interval's) is recognised only while the daemon's state
    // still reaches that seed: it advances the state after installing.
    let f = StekFixture::new();
    let interval = 3600;
    let c = T / interval;
    let seed = new_state(&f, "d.state", c * interval - 7200);
    let root = f.path("caddy-root");
    let h2o = f.path("h2o.yaml");
    fs::create_dir(f.path("work")).unwrap();
    let config = f.path("keywheel.toml");
    fs::write(
        &config,
        format!(
            "state = \"{}\"\nstate_dir = \"{}\"\n\
             [[stek]]\nname = \"caddy\"\nformat = \"caddy\"\nlabel = \"www\"\nkeep = 0\n\
             out = \"{}\"\n\
             [[stek]]\nname = \"h2o\"\nformat = \"h2o\"\nlabel = \"www\"\nkeep = 0\n\
             out = \"{}\"\n",
            f.arg("d.state"),
            f.arg("work"),
            root.display(),
            h2o.display()
        ),
    )
    .unwrap();
    let t1 = (c + 1) * interval + 5;
    let queries = [
        fs_query(&seed, "caddy", "www", interval, 0, T),
        fs_query(&seed, "caddy", "www", interval, 0, t1),
        fs_query(&seed, "h2o", "www", interval, 0, t1),
    ];
    let answers = reference(&queries);
    let now_file = f.path("now");
    fs::write(&now_file, T.to_string()).unwrap();
    let mut cmd = command(KEYWHEEL);
    cmd.args(["run", "--config", config.to_str().unwrap(), "-v"])
        .env("KEYWHEEL_FAKE_NOW_FILE", &now_file);
    let mut d = Daemon::spawn_command(cmd);
    d.wait_line(Duration::from_secs(20), |l| {
        l.contains(&format!(
            "advanced the forward-secure state to {}",
            c * interval
        ))
    });
    let stek_bin = root.join("stek/stek.bin");
    assert_eq!(
        fs::read(&stek_bin).unwrap(),
        files(&answers[0])["stek/stek.bin"]
    );
    // The next interval: both targets rotate, then the state moves to its start.
    fs::write(&now_file, t1.to_string()).unwrap();
    d.wait_line(Duration::from_secs(20), |l| {
        l.contains(&format!(
            "advanced the forward-secure state to {}",
            (c + 1) * interval
        ))
    });
    assert_eq!(
        fs::read(&stek_bin).unwrap(),
        files(&answers[1])["stek/stek.bin"]
    );
    assert_eq!(fs::read(&h2o).unwrap(), files(&answers[2])[""]);
    let lines = d.terminate();
    for l in &lines {
        assert!(
            !l.contains("had rotated on its own") && !l.contains("held no key of keywheel's"),
            "keywheel's own previous stek.bin taken for another writer's: {l}"
        );
    }
}
