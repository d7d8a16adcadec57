//! The man pages under man/ are what the CLI definition renders (clap_mangen for keywheel,
//! tofurkey's usage text for tofurkey), they render with `man -l`, and every option `--help`
//! shows is in them. Regenerate after a CLI change with:
//!
//!     KEYWHEEL_REGENERATE_MAN=1 cargo test -p keywheel-cli --test man

#![allow(clippy::unwrap_used)]

mod common;

use std::fs;
use std::path::PathBuf;
use std::process::Command;

use common::keywheel;

const REGENERATE: &str = "KEYWHEEL_REGENERATE_MAN=1 cargo test -p keywheel-cli --test man";

fn man_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../man")
}

#[test]
fn committed_pages_match_the_cli_definition() {
    let pages = keywheel_cli::man::pages();
    let dir = man_dir();
    if std::env::var_os("KEYWHEEL_REGENERATE_MAN").is_some() {
        fs::create_dir_all(&dir).unwrap();
        for entry in fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "1") {
                fs::remove_file(path).unwrap();
            }
        }
        for (name, text) in &pages {
            fs::write(dir.join(name), text).unwrap();
        }
    }
    let mut drift = Vec::new();
    for (name, text) in &pages {
        match fs::read(dir.join(name)) {
            Ok(committed) if committed == *text => {}
            Ok(_) => drift.push(format!("{name} differs")),
            Err(_) => drift.push(format!("{name} is missing")),
        }
    }
    let names: Vec<&str> = pages.iter().map(|(n, _)| n.as_str()).collect();
    for entry in fs::read_dir(&dir).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if name.ends_with(".1") && !names.contains(&name.as_str()) {
            drift.push(format!("{name} is not generated any more"));
        }
    }
    assert!(
        drift.is_empty(),
        "man pages out of date ({}); regenerate them with:\n    {REGENERATE}",
        drift.join(", ")
    );
    for expected in [
        "keywheel.1",
        "keywheel-tfo.1",
        "keywheel-stek.1",
        "keywheel-run.1",
        "keywheel-check-config.1",
        "keywheel-status.1",
        "keywheel-check.1",
        "keywheel-gen-secret.1",
        "tofurkey.1",
    ] {
        assert!(names.contains(&expected), "no {expected}: {names:?}");
    }
}

/// `man -l PAGE` as plain text on one long line per paragraph (no hyphenation), or `None`
/// when man is not installed.
fn render(page: &str) -> Option<String> {
    let out = Command::new("man")
        .args(["--warnings", "-l", page])
        .env("MANWIDTH", "2000")
        .env("MANPAGER", "cat")
        .env("PAGER", "cat")
        .env("MAN_KEEP_FORMATTING", "")
        .output();
    let out = match out {
        Ok(out) => out,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => panic!("cannot run man: {e}"),
    };
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "man -l {page} failed: {stderr}");
    assert!(stderr.trim().is_empty(), "man -l {page} warns: {stderr}");
    // Drop overstrike formatting, if any, and normalise white space.
    let text = String::from_utf8_lossy(&out.stdout).replace(['\u{2010}', '\u{2212}'], "-");
    let mut plain = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if chars.peek() == Some(&'\u{8}') {
            chars.next();
            continue;
        }
        plain.push(c);
    }
    Some(plain.split_whitespace().collect::<Vec<_>>().join(" "))
}

fn words(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn pages_render_and_hold_every_option_of_help() {
    let dir = man_dir();
    let Some(_) = render(dir.join("keywheel.1").to_str().unwrap()) else {
        eprintln!(
            "SKIPPED: `man` is not installed, so the man pages were not rendered (apt-get \
             install man-db)"
        );
        return;
    };
    let subcommands = [
        "tfo",
        "stek",
        "run",
        "check-config",
        "status",
        "check",
        "gen-secret",
    ];
    for sub in subcommands {
        let page = dir.join(format!("keywheel-{sub}.1"));
        let text = render(page.to_str().unwrap()).unwrap();
        let help = keywheel(&[sub, "--help"]);
        help.assert_ok();
        let mut options = 0;
        for line in help.stdout.lines() {
            let line = line.trim_start();
            let Some(rest) = line.strip_prefix("--").or_else(|| {
                line.strip_prefix("-")
                    .and_then(|r| r.split_once(", --").map(|(_, l)| l))
            }) else {
                continue;
            };
            let option = format!("--{}", rest.split([' ', '=', ',']).next().unwrap());
            assert!(text.contains(&option), "keywheel-{sub}.1 lacks {option}");
            options += 1;
        }
        assert!(
            options >= 2,
            "no options parsed from `keywheel {sub} --help`"
        );
        // The first line of the description is the same text.
        let about = words(help.stdout.lines().next().unwrap());
        assert!(text.contains(&about), "keywheel-{sub}.1 lacks {about:?}");
    }
    let main = render(dir.join("keywheel.1").to_str().unwrap()).unwrap();
    for sub in subcommands {
        assert!(main.contains(&format!("keywheel-{sub}(1)")) || main.contains(sub));
    }
    // tofurkey(1): every paragraph of tofurkey's usage text, word for word.
    let text = render(dir.join("tofurkey.1").to_str().unwrap()).unwrap();
    let usage = common::TOFURKEY_USAGE;
    let mut paragraphs = 0;
    let mut current = String::new();
    let mut flush = |current: &mut String| {
        if !current.is_empty() {
            let p = words(current);
            assert!(text.contains(&p), "tofurkey.1 lacks {p:?}");
            paragraphs += 1;
            current.clear();
        }
    };
    for line in usage.lines() {
        if let Some(rest) = line.strip_prefix("  -") {
            flush(&mut current);
            current.push_str(&format!("-{rest}"));
        } else if line.starts_with("     ") {
            current.push(' ');
            current.push_str(line);
        } else {
            flush(&mut current);
            if let Some(synopsis) = line.strip_prefix("Usage: ") {
                current.push_str(synopsis);
                flush(&mut current);
            } else if !line.is_empty() {
                current.push_str(line);
                flush(&mut current);
            }
        }
    }
    flush(&mut current);
    assert!(paragraphs >= 10, "{paragraphs}");
}
