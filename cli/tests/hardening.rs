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

/// Runs `keywheel ARGS`, killing it after `limit` (a hang is a failure, not a stuck test).
fn keywheel_within(args: &[&str], limit: std::time::Duration) -> (Option<i32>, String) {
    let mut child = spawn(args);
    let deadline = std::time::Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let out = child.wait_with_output().unwrap();
            return (
                status.code(),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            );
        }
        if std::time::Instant::now() > deadline {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("keywheel {args:?} hung for {limit:?}");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Finding 3 (the configuration half): a configuration that is a FIFO hung the process,
/// /dev/zero was read until memory ran out.
#[test]
fn a_config_that_is_a_fifo_or_a_device_or_huge_is_refused() {
    let f = StekFixture::new();
    let fifo = f.path("fifo.toml");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let huge = f.path("huge.toml");
    fs::write(&huge, vec![b'#'; 2 * 1024 * 1024]).unwrap();
    let limit = std::time::Duration::from_secs(5);
    for (path, why) in [
        (fifo.to_str().unwrap(), "not a regular file (a FIFO)"),
        ("/dev/zero", "not a regular file (a character device)"),
        (
            huge.to_str().unwrap(),
            "a configuration file may have at most 1048576 bytes",
        ),
    ] {
        for cmd in ["check-config", "run"] {
            let args: Vec<&str> = if cmd == "run" {
                vec!["run", "--once", "--config", path]
            } else {
                vec![cmd, path]
            };
            let (code, err) = keywheel_within(&args, limit);
            assert_eq!(code, Some(2), "{args:?}: {err}");
            assert!(err.contains(why), "{args:?}: {err}");
        }
    }
}

/// Finding 5: `--autokey` followed a symlink and wrote the new secret into its target, and wrote
/// into an existing 0644 file keeping its mode. Now the mode is checked first (a 0644 file is
/// refused, untouched) and a new key goes through an `O_EXCL|O_NOFOLLOW` temporary renamed
/// over the path (a symlink is replaced, its target untouched).
#[test]
fn autokey_never_follows_symlinks_nor_writes_into_an_existing_file() {
    use std::os::unix::fs::PermissionsExt;
    let f = StekFixture::new();
    let victim = f.path("victim");
    fs::write(&victim, b"not a key\n").unwrap();
    fs::set_permissions(&victim, fs::Permissions::from_mode(0o600)).unwrap();
    std::os::unix::fs::symlink(&victim, f.path("sym.key")).unwrap();
    fs::write(f.path("empty.key"), b"").unwrap();
    fs::set_permissions(f.path("empty.key"), fs::Permissions::from_mode(0o600)).unwrap();
    fs::write(f.path("open.key"), b"").unwrap();
    fs::set_permissions(f.path("open.key"), fs::Permissions::from_mode(0o644)).unwrap();
    fs::write(f.path("procfs"), b"x").unwrap();
    let autokey = |name: &str| {
        common::keywheel(&[
            "tfo",
            "--autokey",
            &f.arg(name),
            "--procfs",
            &f.arg("procfs"),
            "--time",
            "1700000000",
        ])
    };
    for name in ["sym.key", "empty.key"] {
        autokey(name).assert_ok();
        let meta = fs::symlink_metadata(f.path(name)).unwrap();
        assert!(meta.is_file(), "{name} is not a regular file now");
        assert_eq!(meta.permissions().mode() & 0o7777, 0o600, "{name}");
        assert_eq!(meta.len(), 32, "{name}");
    }
    assert_eq!(
        fs::read(&victim).unwrap(),
        b"not a key\n",
        "the symlink's target was written"
    );
    let r = autokey("open.key");
    assert_eq!(r.code, Some(1), "{r:?}");
    assert!(r.stderr.contains("has mode 0644"), "{r:?}");
    assert_eq!(
        fs::read(f.path("open.key")).unwrap(),
        b"",
        "a 0644 file got a secret"
    );
}

/// Finding 5: `--procfs` followed symlinks and wrote 72 bytes over any file (or hung on a
/// FIFO). keywheel now refuses what is neither procfs nor a regular file.
#[test]
fn procfs_refuses_symlinks_and_special_files() {
    let f = StekFixture::new();
    let victim = f.path("victim");
    fs::write(&victim, b"precious\n").unwrap();
    std::os::unix::fs::symlink(&victim, f.path("link")).unwrap();
    let fifo = f.path("fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let key = f.key();
    for (target, why) in [
        (f.arg("link"), "is a symbolic link"),
        (fifo.to_str().unwrap().to_owned(), "is a FIFO"),
    ] {
        let (code, err) = keywheel_within(
            &[
                "tfo",
                "--main-key",
                &key,
                "--procfs",
                &target,
                "--time",
                "1700000000",
            ],
            std::time::Duration::from_secs(5),
        );
        assert_eq!(code, Some(1), "{target}: {err}");
        assert!(err.contains(why), "{target}: {err}");
    }
    assert_eq!(fs::read(&victim).unwrap(), b"precious\n");
}

/// Finding 7: a world-writable directory without the sticky bit, or one owned by another
/// user, was accepted as an output directory.
#[test]
fn unsafe_output_directories_are_refused() {
    use std::os::unix::fs::PermissionsExt;
    let f = StekFixture::new();
    let key = f.key();
    let stek = |out: &str| {
        common::keywheel(&[
            "stek",
            "--format",
            "ats",
            "--label",
            "x",
            "--main-key",
            &key,
            "--out",
            out,
            "--time",
            "1700000000",
        ])
    };
    let open = f.path("open");
    fs::create_dir(&open).unwrap();
    fs::set_permissions(&open, fs::Permissions::from_mode(0o777)).unwrap();
    let r = stek(&format!("{}/k", open.display()));
    assert_eq!(r.code, Some(1), "{r:?}");
    assert!(
        r.stderr.contains("writable by everybody (mode 0777)"),
        "{r:?}"
    );
    assert!(!open.join("k").exists());
    // The sticky bit (as /dev/shm, /tmp) is safe: nobody can replace another's files.
    fs::set_permissions(&open, fs::Permissions::from_mode(0o1777)).unwrap();
    stek(&format!("{}/k", open.display())).assert_ok();

    if !common::is_root() {
        eprintln!("not root: the case of a directory owned by another user is not exercised");
        return;
    }
    let theirs = f.path("theirs");
    fs::create_dir(&theirs).unwrap();
    std::os::unix::fs::chown(&theirs, Some(65534), Some(65534)).unwrap();
    let r = stek(&format!("{}/k", theirs.display()));
    assert_eq!(r.code, Some(1), "{r:?}");
    assert!(r.stderr.contains("is owned by uid 65534"), "{r:?}");
}

/// Finding 7: `check` said OK for a key file chmodded 0644.
#[test]
fn check_is_critical_when_a_key_file_is_readable_by_others() {
    use std::os::unix::fs::PermissionsExt;
    let f = StekFixture::new();
    let conf = f.path("kw.toml");
    fs::write(
        &conf,
        format!(
            "main_key = \"{}\"\n[[stek]]\nformat = \"ats\"\nlabel = \"x\"\nout = \"{}\"\n",
            f.key(),
            f.arg("ats.key")
        ),
    )
    .unwrap();
    let conf = conf.to_str().unwrap();
    common::keywheel(&["run", "--once", "--config", conf]).assert_ok();
    let r = common::keywheel(&["check", "--config", conf]);
    assert_eq!(r.code, Some(0), "{r:?}");
    fs::set_permissions(f.path("ats.key"), fs::Permissions::from_mode(0o644)).unwrap();
    let r = common::keywheel(&["check", "--config", conf]);
    assert_eq!(r.code, Some(2), "{r:?}");
    assert!(
        r.stdout.starts_with("KEYWHEEL CRITICAL") && r.stdout.contains("has mode 0644"),
        "{r:?}"
    );
}

/// Finding 8: another process of the same user could read the daemon's memory through
/// /proc/PID/mem. A non-dumpable process's /proc/PID files belong to root, so a process of the
/// daemon's user cannot open them; core dumps stay off; the log says memory is not locked.
#[test]
fn the_daemon_is_not_dumpable_and_says_when_memory_is_not_locked() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let root = common::is_root();
    let f = StekFixture::new();
    fs::set_permissions(f.dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let out = f.path("out");
    fs::create_dir(&out).unwrap();
    // As root the daemon runs as nobody (65534) through setpriv; otherwise as this user.
    let mut cmd = if root {
        for p in [f.path("main.key"), out.clone()] {
            std::os::unix::fs::chown(&p, Some(65534), Some(65534)).unwrap();
        }
        let mut c = command("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", KEYWHEEL]);
        c
    } else {
        command(KEYWHEEL)
    };
    cmd.args([
        "stek",
        "--format",
        "ats",
        "--label",
        "x",
        "--main-key",
        &f.key(),
    ])
    .args([
        "--out",
        &format!("{}/ats.key", out.display()),
        "--interval",
        "3600",
    ]);
    let mut daemon = common::daemon::Daemon::spawn_command(cmd);
    let line = daemon.wait_line(std::time::Duration::from_secs(10), |l| {
        l.contains("mlockall skipped")
    });
    assert!(line.starts_with("info: not running as root"), "{line}");
    daemon.wait_line(std::time::Duration::from_secs(10), |l| l.contains("wrote"));
    let pid = daemon.child.id();
    let mem = fs::metadata(format!("/proc/{pid}/mem")).unwrap();
    assert_eq!(
        mem.uid(),
        0,
        "/proc/{pid}/mem belongs to the daemon's user: dumpable"
    );
    let limits = fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let core = limits
        .lines()
        .find(|l| l.starts_with("Max core file size"))
        .unwrap();
    assert_eq!(core.split_whitespace().nth(4), Some("0"), "{core}");
    daemon.terminate();
}

/// Finding 10: messages and limits.
#[test]
fn messages_and_limits() {
    let f = StekFixture::new();
    let key = f.key();
    let stek = |out: &str, extra: &[&str]| {
        let mut args = vec![
            "stek",
            "--format",
            "ats",
            "--label",
            "x",
            "--main-key",
            &key,
            "--out",
            out,
            "--time",
            "1700000000",
        ];
        args.extend_from_slice(extra);
        common::keywheel(&args)
    };
    // A valid 240-byte file name: its temporary name must be valid too.
    let long = f.path(&"k".repeat(240));
    stek(long.to_str().unwrap(), &[]).assert_ok();
    assert_eq!(fs::read(&long).unwrap().len(), 48 * 3);
    assert!(temporaries(f.dir.path()).is_empty());
    // `--out missing/`: a directory-looking path for a one-file format.
    let r = stek(&format!("{}/", f.arg("missing")), &[]);
    assert_eq!(r.code, Some(1), "{r:?}");
    assert!(
        r.stderr
            .contains("ends with '/', but --format ats writes one file"),
        "{r:?}"
    );
    // keep capped: 60481 key files every 10 s is not a configuration.
    let r = stek(&f.arg("a.key"), &["--interval", "10", "--keep", "60479"]);
    assert_eq!(r.code, Some(2), "{r:?}");
    assert!(
        r.stderr.contains(
            "keep 60479 gives 60481 keys for --format ats; an output holds at most 256 keys"
        ),
        "{r:?}"
    );
    // A huge interval is out of range (it was called "odd").
    let conf = f.path("kw.toml");
    let write = |body: &str| fs::write(&conf, format!("main_key = \"{key}\"\n{body}")).unwrap();
    write("[tfo]\ninterval = 9223372036854775807\nprocfs = \"/x/procfs\"\n");
    let r = common::keywheel(&["check-config", conf.to_str().unwrap()]);
    assert_eq!(r.code, Some(2), "{r:?}");
    assert!(
        r.stderr.contains(
            "interval 9223372036854775807 is out of range; it must be even and in 10..=604800"
        ),
        "{r:?}"
    );
    // NUL bytes in a path: refused, and shown escaped, never raw.
    write("[[stek]]\nformat = \"ats\"\nlabel = \"x\"\nout = \"/dev/shm/a\\u0000b\"\n");
    let r = common::keywheel(&["check-config", conf.to_str().unwrap()]);
    assert_eq!(r.code, Some(2), "{r:?}");
    assert!(!r.stderr.contains('\0'), "a raw NUL in the message");
    assert!(
        r.stderr
            .contains("/dev/shm/a\\0b holds a control character"),
        "{r:?}"
    );
}

/// Finding 10 (the main-key half): a main key of 32 zero bytes was accepted silently. Every way
/// a main key enters is refused with the core's sentence (SPEC.md 1), exit status non-zero and
/// nothing written; a zero autokey file is replaced by a fresh random key, as an unreadable one.
#[test]
fn an_all_zero_main_key_is_refused_everywhere() {
    use std::os::unix::fs::PermissionsExt;
    const ZERO: &str = "main key is all zero bytes; it must be 32 random bytes (generate them \
                        with `keywheel gen-secret`)";
    let f = StekFixture::new();
    let key = f.key();
    let zero = f.write_key("zero.key", &[0u8; 32], 0o600);
    f.write_key("procfs", b"x", 0o600);
    let dir = f.dir.path().to_str().unwrap().to_owned();
    let config = |name: &str, keys: &str| {
        let path = f.path(name);
        fs::write(
            &path,
            format!(
                "{keys}\n[tfo]\nprocfs = \"{dir}/procfs\"\n\
                 [[stek]]\nformat = \"nginx\"\nlabel = \"x\"\nout = \"{dir}/cfg-nginx\"\n"
            ),
        )
        .unwrap();
        path.to_str().unwrap().to_owned()
    };
    let main_zero = config("main-zero.toml", &format!("main_key = \"{zero}\""));
    let previous_zero = config(
        "previous-zero.toml",
        &format!("main_key = \"{key}\"\nprevious_main_key = \"{zero}\""),
    );
    let credential_zero = config("credential-zero.toml", "main_key_credential = \"zero.key\"");
    let before = f.listing("");
    let stek = |format: &str, out: &str, key_args: &[&str]| {
        let mut args = vec!["stek", "--format", format, "--label", "x"];
        args.extend_from_slice(key_args);
        args.extend_from_slice(&["--out", out, "--time", "1700000000", "--once"]);
        let mut cmd = command(KEYWHEEL);
        cmd.env("CREDENTIALS_DIRECTORY", &dir).args(&args);
        common::run(cmd)
    };
    let mut runs = vec![
        (
            "stek nginx",
            stek("nginx", &format!("{dir}/nginx"), &["--main-key", &zero]),
        ),
        (
            "stek ats",
            stek("ats", &format!("{dir}/a.key"), &["--main-key", &zero]),
        ),
        (
            "stek --credential",
            stek(
                "openssl",
                &format!("{dir}/o.key"),
                &["--credential", "zero.key"],
            ),
        ),
        (
            "tfo",
            common::keywheel(&[
                "tfo",
                "--main-key",
                &zero,
                "--procfs",
                &format!("{dir}/procfs"),
                "--once",
            ]),
        ),
    ];
    for conf in [&main_zero, &previous_zero, &credential_zero] {
        let mut cmd = command(KEYWHEEL);
        cmd.env("CREDENTIALS_DIRECTORY", &dir)
            .args(["run", "--once", "--config", conf]);
        runs.push(("run --once", common::run(cmd)));
    }
    for (what, r) in &runs {
        assert!(
            r.code.is_some_and(|c| c != 0) && r.signal.is_none(),
            "{what}: {r:?}"
        );
        assert!(r.stderr.contains(ZERO), "{what}: {r:?}");
        assert!(
            r.stderr.contains("zero.key"),
            "{what} names the file: {r:?}"
        );
        assert_eq!(r.stdout, "", "{what}");
    }
    assert_eq!(f.listing(""), before, "something was written");
    assert_eq!(fs::read(f.path("procfs")).unwrap(), b"x");

    // An autokey file of zeros is replaced by a fresh random key (mode 0600), then used.
    let auto = f.write_key("zero.autokey", &[0u8; 32], 0o600);
    let r = common::keywheel(&[
        "tfo",
        "--autokey",
        &auto,
        "--procfs",
        &format!("{dir}/procfs"),
        "--time",
        "1700000000",
    ]);
    r.assert_ok();
    assert!(r.stderr.contains(ZERO), "{r:?}");
    let fresh = fs::read(&auto).unwrap();
    assert_eq!(fresh.len(), 32);
    assert_ne!(fresh, vec![0u8; 32]);
    assert_eq!(
        fs::metadata(&auto).unwrap().permissions().mode() & 0o7777,
        0o600
    );
}
