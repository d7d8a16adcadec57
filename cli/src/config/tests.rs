//! The configuration file's parsing and its typed errors.

#![allow(clippy::unwrap_used)]

use super::*;

fn err(text: &str) -> String {
    parse(Path::new("/etc/kw.toml"), text)
        .unwrap_err()
        .to_string()
}

const MAIN: &str = "main_key = \"/etc/keywheel/main.key\"\n";

#[test]
fn errors_name_file_line_key_and_allowed_values() {
    assert_eq!(
        err(&format!("{MAIN}[tfo]\ninterval = 11\n")),
        "/etc/kw.toml:3: tfo.interval: interval 11 is odd; it must be even and in 10..=604800"
    );
    let e = err(&format!(
        "{MAIN}[[stek]]\nformat = \"nginx\"\nlabel = \"w\"\nout = \"/run/k\"\nkep = 1\n"
    ));
    assert!(
        e.starts_with("/etc/kw.toml:6: unknown field `kep`, expected one of `name`, `format`"),
        "{e}"
    );
    assert_eq!(
        err(&format!(
            "{MAIN}[[stek]]\nformat = \"nginx80\"\nlabel = \"w\"\nout = \"/run/k\"\n"
        )),
        "/etc/kw.toml:3: stek[0].format: format 'nginx80' is unknown; it must be one of nginx, \
         nginx48, haproxy, haproxy48, apache, ats, openssl, lighttpd, h2o, go, go-json, caddy, json"
    );
    assert_eq!(
        err(&format!(
            "{MAIN}[[stek]]\nformat = \"haproxy\"\nlabel = \"w\"\nout = \"/run/k\"\nkeep = 2\n"
        )),
        "/etc/kw.toml:6: stek[0].keep: keep 2 does not fit format haproxy: HAProxy uses \
         exactly 3 keys (previous, current, next), so keep must be 1"
    );
    assert_eq!(
        err("[tfo]\n"),
        "/etc/kw.toml: main_key (a file) or main_key_credential (a systemd credential) is \
         required"
    );
    assert_eq!(
        err(MAIN),
        "/etc/kw.toml: no targets: add a [tfo] table and/or [[stek]] tables"
    );
    assert_eq!(
        err("main_key = \"main.key\"\n[tfo]\n"),
        "/etc/kw.toml:1: main_key: 'main.key' is not an absolute path"
    );
    let two = "[[stek]]\nformat = \"ats\"\nlabel = \"w\"\nout = \"/run/a\"\n";
    let e = err(&format!("{MAIN}{two}{}", two.replace("/run/a", "/run/b")));
    assert_eq!(
        e,
        "/etc/kw.toml:6: stek[1].name: two [[stek]] targets are named 'ats'; give each a \
         unique name = \"...\""
    );
}

#[test]
fn errors_are_typed_with_their_position() {
    let e = parse(
        Path::new("/etc/kw.toml"),
        &format!(
            "{MAIN}[[stek]]\nformat = \"ats\"\nlabel = \"w\"\nout = \"/run/k\"\nkeep = 1000\n"
        ),
    )
    .unwrap_err();
    match &e {
        ConfigError::Value { line, key, .. } => {
            assert_eq!((*line, key.as_str()), (6, "stek[0].keep"))
        }
        other => panic!("not a value error: {other:?}"),
    }
    let e = parse(
        Path::new("/etc/kw.toml"),
        &format!("{MAIN}[[stek]]\nformat = \"ats\"\nlabel = \"w\"\nout = \"/run/k\"\nhaproxy_socket = \"/run/s\"\n"),
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "/etc/kw.toml:6: stek[0].haproxy_socket: haproxy_socket needs format haproxy or \
         haproxy48, not ats"
    );
    assert!(matches!(
        parse(Path::new("/x.toml"), "[tfo\n").unwrap_err(),
        ConfigError::Syntax { line: Some(1), .. }
    ));
    assert!(matches!(
        load(Path::new("/nonexistent/kw.toml")).unwrap_err(),
        ConfigError::Read { .. }
    ));
}

#[test]
fn a_full_config() {
    let c = parse(
        Path::new("/x.toml"),
        "main_key_credential = \"kw\"\nprevious_main_key = \"/etc/old.key\"\n\
         metrics_file = \"/run/m.prom\"\n[tfo]\ninterval = 10\nprocfs = \"/tmp/p\"\n\
         [[stek]]\nname = \"web\"\nformat = \"nginx\"\nlabel = \"www\"\nout = \"/run/n\"\n\
         reload = \"true\"\nkeep = 2\ninterval = 60\n\
         [[stek]]\nformat = \"haproxy\"\nlabel = \"www\"\nout = \"/run/h.keys\"\n\
         haproxy_socket = \"/run/h.sock\"\n",
    )
    .unwrap();
    assert_eq!(c.main_key, Some(KeyRef::Credential("kw".into())));
    assert_eq!(
        c.previous_main_key,
        Some(KeyRef::File("/etc/old.key".into()))
    );
    assert_eq!(c.tfo.as_ref().unwrap().schedule.interval(), 10);
    assert_eq!(c.target_names(), ["tfo", "web", "haproxy"]);
    assert_eq!(c.stek[0].1.keep(), 2);
    assert_eq!(c.stek[1].1.interval(), 3600);
}

#[test]
fn forward_secure_mode_never_mixes_with_a_main_key() {
    let p = Path::new("/x.toml");
    let tfo = "[tfo]\ninterval = 600\n";
    let c = parse(
        p,
        &format!("state = \"/etc/fs.state\"\nnext_state_credential = \"n\"\nstate_dir = \"/run/w\"\n{tfo}"),
    )
    .unwrap();
    assert_eq!(c.main_key, None);
    let st = c.state.unwrap();
    assert_eq!(st.state, KeyRef::File("/etc/fs.state".into()));
    assert_eq!(st.next, Some(KeyRef::Credential("n".into())));
    assert_eq!(st.dir, Some(PathBuf::from("/run/w")));
    let e = parse(
        p,
        &format!("main_key = \"/k\"\nstate_credential = \"s\"\n{tfo}"),
    )
    .unwrap_err()
    .to_string();
    assert_eq!(
        e,
        "/x.toml:2: state: set either a main key (main_key / main_key_credential) or a \
         forward-secure state (state / state_credential), not both: a target never mixes \
         the two modes"
    );
    let e = parse(
        p,
        &format!("main_key = \"/k\"\nprevious_state = \"/s\"\n{tfo}"),
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("previous_state: belongs to forward-secure mode"),
        "{e}"
    );
    let e = parse(
        p,
        &format!("state = \"/s\"\nprevious_main_key = \"/k\"\n{tfo}"),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("with state use previous_state"), "{e}");
    let e = parse(p, &format!("state = \"s\"\n{tfo}"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("'s' is not an absolute path"), "{e}");
    let e = parse(p, tfo).unwrap_err().to_string();
    assert!(
        e.contains("main_key (a file) or main_key_credential"),
        "{e}"
    );
}

/// The configuration parser never panics, whatever the text.
#[test]
fn fuzz_config_parser() {
    let dict: &[&[u8]] = &[
        b"main_key = ",
        b"[[stek]]\n",
        b"[tfo]\n",
        b"format = ",
        b"\"nginx\"",
        b"\"ats\"",
        b"\"haproxy\"",
        b"out = ",
        b"\"/run/k\"",
        b"interval = ",
        b"keep = ",
        b"label = ",
        b"reload = ",
        b"haproxy_socket = ",
        b"metrics_file = ",
        b"procfs = ",
        b"group = ",
        b"name = ",
        b"9223372036854775807",
        b"-1",
        b"\\u0000",
        b"main_key_credential = ",
        b"allow_persistent = true",
        b"previous_main_key = ",
        b"next_main_key = ",
    ];
    crate::sys::fuzz::fuzz("config", &[], dict, |bytes| {
        let text = String::from_utf8_lossy(bytes);
        let _ = parse(Path::new("/fuzz/keywheel.toml"), &text);
    });
}
