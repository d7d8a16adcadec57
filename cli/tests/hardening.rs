//! Issue 14 (hardening): each finding reproduced against the real `keywheel` binary. Every test
//! here failed before its fix.

#![allow(clippy::unwrap_used)]

mod common;

use std::fs;
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use common::stek::StekFixture;
use common::{KEYWHEEL, command};

/// Spawns `keywheel` with `args`, its output captured.
fn spawn(args: &[&str]) -> Child {
    let mut cmd = command(KEYWHEEL);
    cmd.args(args).stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd.spawn().unwrap()
}

/// What an nginx output directory must always look like to a reader: `current` names a
/// directory holding exactly `0.key .. (n-1).key` (80 bytes each) and `nginx.conf` names
/// exactly those files. Returns the problem seen, if any (ENOENT races on the files themselves
/// are problems: a reader following `current` must always find the complete set).
fn nginx_set_problem(dir: &Path, n: usize) -> Option<String> {
    let current = dir.join("current");
    if fs::symlink_metadata(&current).is_err() {
        return None; // not published yet (the first writer is still staging)
    }
    let names: Vec<String> = match fs::read_dir(&current) {
        Ok(entries) => {
            let mut v: Vec<String> = entries
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .collect();
            v.sort();
            v
        }
        Err(e) => return Some(format!("cannot list current: {e}")),
    };
    let want: Vec<String> = (0..n).map(|i| format!("{i}.key")).collect();
    if names != want {
        return Some(format!("current holds {names:?}, expected {want:?}"));
    }
    for name in &names {
        match fs::read(current.join(name)) {
            Ok(b) if b.len() == 80 => {}
            Ok(b) => return Some(format!("current/{name} holds {} bytes", b.len())),
            Err(e) => return Some(format!("cannot read current/{name}: {e}")),
        }
    }
    None
}

fn temporaries(dir: &Path) -> Vec<String> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with(".keywheel-"))
        .collect()
}

/// Finding 1: two `keywheel stek --format nginx --once` on one directory at the same time.
/// Before the fix each one's clean-up removed the other's staging directory (and the set it
/// had just published), so `current/` held 0 or 1 of its 3 files and both exited 0.
#[test]
fn two_nginx_writers_on_one_directory_never_publish_a_partial_set() {
    let f = StekFixture::new();
    let key = f.key();
    let mut problems = Vec::new();
    for pair in 0..40u64 {
        let out = f.path(&format!("nginx{pair}"));
        let out_s = out.to_str().unwrap().to_owned();
        let stop = Arc::new(AtomicBool::new(false));
        let reader = {
            let stop = stop.clone();
            let out = out.clone();
            std::thread::spawn(move || {
                let mut seen = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    if let Some(p) = nginx_set_problem(&out, 3) {
                        seen.push(p);
                    }
                }
                seen
            })
        };
        // Different times: the two writers publish different key directories.
        let times = [
            1_000_000_000 + pair * 7200,
            1_000_000_000 + pair * 7200 + 3600,
        ];
        let children: Vec<Child> = times
            .iter()
            .map(|t| {
                let t = t.to_string();
                spawn(&[
                    "stek",
                    "--format",
                    "nginx",
                    "--label",
                    "web",
                    "--main-key",
                    &key,
                    "--out",
                    &out_s,
                    "--interval",
                    "3600",
                    "--keep",
                    "1",
                    "--time",
                    &t,
                ])
            })
            .collect();
        for child in children {
            let o = child.wait_with_output().unwrap();
            // A writer may give up on a locked directory with a clear error, never half-publish.
            if !o.status.success() {
                let err = String::from_utf8_lossy(&o.stderr);
                if !err.contains("locked") {
                    problems.push(format!("pair {pair}: a writer failed: {err}"));
                }
            }
        }
        stop.store(true, Ordering::Relaxed);
        problems.extend(
            reader
                .join()
                .unwrap()
                .into_iter()
                .map(|p| format!("pair {pair}: {p}")),
        );
        if let Some(p) = nginx_set_problem(&out, 3) {
            problems.push(format!("pair {pair} after both exited: {p}"));
        }
        let conf = fs::read_to_string(out.join("nginx.conf")).unwrap_or_default();
        if conf.lines().count() != 3 {
            problems.push(format!("pair {pair}: nginx.conf is {conf:?}"));
        }
        let left = temporaries(&out);
        if !left.is_empty() {
            problems.push(format!("pair {pair}: temporaries left: {left:?}"));
        }
    }
    assert!(
        problems.is_empty(),
        "{} problems: {:#?}",
        problems.len(),
        &problems[..problems.len().min(10)]
    );
}

/// A pid that no longer exists (a child that has been reaped).
fn dead_pid() -> u32 {
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let pid = child.id();
    child.wait().unwrap();
    pid
}

/// Finding 9: a writer killed with SIGKILL leaves temporaries holding key material; the next
/// run must remove them (the dead pid's), and never another live process's.
#[test]
fn temporaries_of_dead_writers_are_removed_at_the_next_start() {
    let f = StekFixture::new();
    let key = f.key();
    let nginx = f.path("nginx");
    fs::create_dir(&nginx).unwrap();
    let dead = dead_pid();
    let live = std::process::id(); // this test: alive, and not the keywheel under test
    let dead_dir = nginx.join(format!(".keywheel-{dead}-dir-keys.5.tmp"));
    fs::create_dir(&dead_dir).unwrap();
    fs::write(dead_dir.join("0.key"), [7u8; 80]).unwrap();
    let dead_conf = nginx.join(format!(".keywheel-{dead}-file-nginx.conf.tmp"));
    fs::write(&dead_conf, b"ssl_session_ticket_key x;\n").unwrap();
    let live_dir = nginx.join(format!(".keywheel-{live}-dir-keys.6.tmp"));
    fs::create_dir(&live_dir).unwrap();
    let dead_file = f.path(&format!(".keywheel-{dead}-file-ats.key.tmp"));
    fs::write(&dead_file, [9u8; 48]).unwrap();
    let live_file = f.path(&format!(".keywheel-{live}-file-ats.key.tmp"));
    fs::write(&live_file, [9u8; 48]).unwrap();

    let nginx_s = nginx.to_str().unwrap();
    let ats = f.arg("ats.key");
    for (format, out) in [("nginx", nginx_s), ("ats", ats.as_str())] {
        let mut cmd = command(KEYWHEEL);
        cmd.args([
            "stek",
            "--format",
            format,
            "--label",
            "web",
            "--main-key",
            &key,
            "--out",
            out,
            "--time",
            "1700000000",
        ]);
        common::run(cmd).assert_ok();
    }
    let gone = |p: &Path| fs::symlink_metadata(p).is_err();
    assert!(gone(&dead_dir), "a dead writer's directory survived");
    assert!(
        gone(&dead_conf),
        "a dead writer's nginx.conf temporary survived"
    );
    assert!(gone(&dead_file), "a dead writer's ats temporary survived");
    assert!(!gone(&live_dir), "a live process's temporary was removed");
    assert!(!gone(&live_file), "a live process's temporary was removed");
}

/// Finding 6: when the key count shrinks and `nginx.conf` cannot be rewritten (a full tmpfs;
/// here RLIMIT_FSIZE, which fails the snippet's write but not the 80-byte key files), the
/// snippet must still name only files `current/` holds. Before the fix `current` switched to
/// the smaller set first and `nginx.conf` kept naming the missing files.
#[test]
fn nginx_snippet_never_names_files_current_lacks() {
    let f = StekFixture::new();
    let key = f.key();
    let out = f.path("nginx");
    let out_s = out.to_str().unwrap();
    let run = |keep: &str, fsize: Option<u32>| {
        let mut cmd = match fsize {
            // SIGXFSZ ignored (inherited through exec), so the write fails with EFBIG.
            Some(limit) => {
                let mut c = command("/bin/sh");
                c.args([
                    "-c",
                    &format!("trap '' XFSZ; exec prlimit --fsize={limit} -- \"$0\" \"$@\""),
                    KEYWHEEL,
                ]);
                c
            }
            None => command(KEYWHEEL),
        };
        cmd.args([
            "stek",
            "--format",
            "nginx",
            "--label",
            "web",
            "--main-key",
            &key,
            "--out",
            out_s,
            "--interval",
            "3600",
            "--keep",
            keep,
            "--time",
            "1700000000",
        ]);
        common::run(cmd)
    };
    run("3", None).assert_ok(); // 5 keys
    let failed = run("1", Some(100)); // 3 keys; the snippet (> 100 bytes) cannot be written
    assert_ne!(failed.code, Some(0), "{failed:?}");
    let conf = fs::read_to_string(out.join("nginx.conf")).unwrap();
    for line in conf.lines() {
        let path = line
            .strip_prefix("ssl_session_ticket_key ")
            .and_then(|l| l.strip_suffix(';'))
            .unwrap();
        assert!(
            Path::new(path).is_file(),
            "nginx.conf names {path}, which current/ lacks; nginx would fail to reload"
        );
    }
    assert!(temporaries(&out).is_empty(), "{:?}", temporaries(&out));
}

/// Finding 2: an output that is the main key (or another output), however the path is
/// spelled, is refused before anything is written.
#[test]
fn outputs_colliding_with_inputs_or_each_other_are_refused() {
    let f = StekFixture::new();
    let key = f.key();
    let main_before = fs::read(&key).unwrap();
    fs::create_dir(f.path("t")).unwrap();
    std::os::unix::fs::symlink(f.path("t"), f.path("link")).unwrap();
    let dir = f.dir.path().to_str().unwrap().to_owned();

    // stek: --out is the main key (directly, through `..`, through a symlinked directory).
    for out in [key.clone(), format!("{dir}/t/../main.key")] {
        let r = common::keywheel(&[
            "stek",
            "--format",
            "openssl",
            "--label",
            "web",
            "--main-key",
            &key,
            "--out",
            &out,
            "--time",
            "1700000000",
        ]);
        assert_eq!(r.code, Some(2), "--out {out}: {r:?}");
        assert!(r.stderr.contains("same file"), "{r:?}");
        assert_eq!(
            fs::read(&key).unwrap(),
            main_before,
            "the main key was overwritten"
        );
    }
    // tfo: --procfs is the main key.
    let r = common::keywheel(&[
        "tfo",
        "--main-key",
        &key,
        "--procfs",
        &format!("{dir}/link/../main.key"),
        "--time",
        "1700000000",
    ]);
    assert_eq!(r.code, Some(2), "{r:?}");
    assert_eq!(
        fs::read(&key).unwrap(),
        main_before,
        "the main key was overwritten"
    );

    // check-config and run: outputs colliding by text variants, symlinked directories, a file
    // inside an nginx directory, and metrics_file = procfs = a stek out.
    let configs = [
        format!(
            "[[stek]]\nname = \"a\"\nformat = \"openssl\"\nlabel = \"x\"\nout = \"{dir}/t/c1\"\n\
             [[stek]]\nname = \"b\"\nformat = \"ats\"\nlabel = \"x\"\nout = \"{dir}/t/../t/c1\"\n"
        ),
        format!(
            "[[stek]]\nname = \"a\"\nformat = \"openssl\"\nlabel = \"x\"\nout = \"{dir}/t/c1\"\n\
             [[stek]]\nname = \"b\"\nformat = \"ats\"\nlabel = \"x\"\nout = \"{dir}/link/c1\"\n"
        ),
        format!(
            "[[stek]]\nname = \"a\"\nformat = \"nginx\"\nlabel = \"x\"\nout = \"{dir}/t/n\"\n\
             [[stek]]\nname = \"b\"\nformat = \"ats\"\nlabel = \"x\"\nout = \"{dir}/t/n/0.key\"\n"
        ),
        format!(
            "metrics_file = \"{dir}/t/m\"\n[tfo]\nprocfs = \"{dir}/t/m\"\n\
             [[stek]]\nformat = \"ats\"\nlabel = \"x\"\nout = \"{dir}/link/m\"\n"
        ),
        format!("[[stek]]\nformat = \"ats\"\nlabel = \"x\"\nout = \"{dir}/link/../main.key\"\n"),
    ];
    for (i, body) in configs.iter().enumerate() {
        let conf = f.path(&format!("c{i}.toml"));
        fs::write(&conf, format!("main_key = \"{key}\"\n{body}")).unwrap();
        let conf = conf.to_str().unwrap();
        for cmd in [
            vec!["check-config", conf],
            vec!["run", "--once", "--config", conf],
        ] {
            let r = common::keywheel(&cmd);
            assert_eq!(r.code, Some(2), "config {i} {cmd:?}: {body}\n{r:?}");
            assert!(
                r.stderr.contains("same file") || r.stderr.contains("is inside"),
                "{r:?}"
            );
        }
        assert!(
            !f.path("t/c1").exists() && !f.path("t/m").exists(),
            "config {i} wrote"
        );
        assert_eq!(
            fs::read(&key).unwrap(),
            main_before,
            "the main key was overwritten"
        );
    }
}

/// The fake clock of debug builds: a file holding the unix time, replaced atomically.
fn set_now(path: &Path, t: u64) {
    let tmp = path.with_extension("tmp");
    fs::write(&tmp, format!("{t}\n")).unwrap();
    fs::rename(&tmp, path).unwrap();
}

/// Waits up to `within` for `cond`.
fn wait_for(within: std::time::Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + within;
    while std::time::Instant::now() < deadline {
        if cond() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    cond()
}

/// Finding 4: a reload command that hangs (and floods its output) on one target. Before the
/// fix the daemon waited for it (60 s) before serving the other targets, READY=1 came late,
/// its output went to stderr unbounded, it inherited CREDENTIALS_DIRECTORY and NOTIFY_SOCKET,
/// and its process group survived the daemon's SIGTERM.
#[test]
fn a_hung_reload_command_blocks_nothing_and_dies_with_the_daemon() {
    use common::daemon::{Daemon, notify_listener};
    const BASE: u64 = 1_700_006_400;
    let f = StekFixture::new();
    let dir = f.dir.path().to_str().unwrap().to_owned();
    fs::write(f.path("procfs"), b"sentinel\n").unwrap();
    let reload = format!(
        "echo $$ > {dir}/reload.pid; env > {dir}/reload.env; \
         head -c 2000000 /dev/zero | tr '\\\\0' x; echo; sleep 1000"
    );
    let config = format!(
        "main_key = \"{key}\"\n[tfo]\ninterval = 20\nprocfs = \"{dir}/procfs\"\n\
         [[stek]]\nname = \"slow\"\nformat = \"ats\"\nlabel = \"x\"\nout = \"{dir}/slow.key\"\n\
         interval = 60\nreload = \"{reload}\"\n\
         [[stek]]\nname = \"other\"\nformat = \"openssl\"\nlabel = \"x\"\n\
         out = \"{dir}/other.key\"\ninterval = 60\n",
        key = f.key(),
        reload = reload.replace('"', "\\\"")
    );
    fs::write(f.path("kw.toml"), config).unwrap();
    let now = f.path("now");
    set_now(&now, BASE + 5);
    let (sock, env) = notify_listener(None, &f.path("notify"));
    let mut cmd = command(KEYWHEEL);
    cmd.args(["run", "--config", &f.arg("kw.toml")])
        .env("KEYWHEEL_FAKE_NOW_FILE", &now)
        .env("NOTIFY_SOCKET", &env)
        .env("CREDENTIALS_DIRECTORY", f.dir.path());
    let daemon = Daemon::spawn_command(cmd);
    // Whatever happens, the test's reload command does not outlive it.
    struct KillGroup(std::path::PathBuf);
    impl Drop for KillGroup {
        fn drop(&mut self) {
            if let Some(pgid) = fs::read_to_string(&self.0)
                .ok()
                .and_then(|t| t.trim().parse::<i32>().ok())
            {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(-pgid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        }
    }
    let _guard = KillGroup(f.path("reload.pid"));
    // READY=1 as soon as every target has keys, not after the reload command.
    sock.set_read_timeout(Some(std::time::Duration::from_secs(8)))
        .unwrap();
    let mut buf = [0u8; 512];
    let n = sock
        .recv(&mut buf)
        .expect("no READY=1 within 8 s: the daemon waits for the reload command");
    assert!(String::from_utf8_lossy(&buf[..n]).contains("READY=1"));
    assert!(wait_for(std::time::Duration::from_secs(5), || f
        .path("reload.env")
        .exists()));

    // The TFO target and the other stek target rotate on time while the reload still runs.
    let tfo_before = fs::read(f.path("procfs")).unwrap();
    let other_before = fs::read(f.path("other.key")).unwrap();
    set_now(&now, BASE + 23);
    assert!(
        wait_for(std::time::Duration::from_secs(5), || fs::read(
            f.path("procfs")
        )
        .unwrap()
            != tfo_before),
        "the TFO keys were not rotated while a reload command ran"
    );
    set_now(&now, BASE + 63);
    assert!(
        wait_for(std::time::Duration::from_secs(5), || fs::read(
            f.path("other.key")
        )
        .unwrap()
            != other_before),
        "the other target was not rotated while a reload command ran"
    );
    let env_text = fs::read_to_string(f.path("reload.env")).unwrap();
    for var in ["CREDENTIALS_DIRECTORY=", "NOTIFY_SOCKET="] {
        assert!(
            !env_text.lines().any(|l| l.starts_with(var)),
            "the reload command inherited {var}"
        );
    }
    assert!(env_text.contains("KEYWHEEL_COUNTER="));
    let pgid: i32 = fs::read_to_string(f.path("reload.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let lines = daemon.terminate();
    let group = nix::unistd::Pid::from_raw(-pgid);
    assert!(
        wait_for(std::time::Duration::from_secs(3), || {
            nix::sys::signal::kill(group, None).is_err()
        }),
        "the reload command's process group survived the daemon"
    );
    let output: usize = lines
        .iter()
        .filter(|l| l.contains("reload output: "))
        .map(String::len)
        .sum();
    assert!(output > 0, "the reload output is not logged: {lines:?}");
    assert!(
        output < 20_000,
        "{output} bytes of reload output logged (2 MB written)"
    );
    assert!(
        lines
            .iter()
            .all(|l| l.starts_with("info: ") || l.starts_with("error: ")),
        "unprefixed output: {:?}",
        lines
            .iter()
            .find(|l| !l.starts_with("info: ") && !l.starts_with("error: "))
    );
}
