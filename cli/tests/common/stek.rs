//! Helpers for the `keywheel stek` tests: expected outputs from an independent Python
//! implementation (stek_reference.py: hashlib only, written from SPEC.md section 4 and the
//! CLI contract), a fixture on tmpfs, and a fake HAProxy admin socket.

use std::collections::BTreeMap;
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};

use serde_json::{Value, json};
use tempfile::TempDir;

use super::{hex, test_key, unhex};

const REFERENCE: &str = include_str!("stek_reference.py");

/// The server formats.
pub const SERVER_FORMATS: [&str; 7] = [
    "nginx",
    "nginx48",
    "haproxy",
    "haproxy48",
    "apache",
    "ats",
    "openssl",
];

/// One query to the reference.
#[derive(Clone, Debug)]
pub struct Query {
    pub main: Vec<u8>,
    /// Forward-secure mode: the seed of the state (the keys then come from it, not `main`).
    pub seed: Option<Vec<u8>>,
    pub label: String,
    pub format: String,
    pub interval: u64,
    pub keep: u64,
    pub now: u64,
}

impl Query {
    pub fn new(format: &str, label: &str, interval: u64, keep: u64, now: u64) -> Query {
        Query {
            main: test_key(),
            seed: None,
            label: label.to_owned(),
            format: format.to_owned(),
            interval,
            keep,
            now,
        }
    }
}

/// The reference's answers, one per query (see stek_reference.py).
pub fn reference(queries: &[Query]) -> Vec<Value> {
    let input: Vec<Value> = queries
        .iter()
        .map(|q| {
            let mut v = json!({"main": hex(&q.main), "label": q.label, "format": q.format,
                   "interval": q.interval, "keep": q.keep, "now": q.now});
            if let Some(seed) = &q.seed {
                v["seed"] = Value::from(hex(seed));
            }
            v
        })
        .collect();
    let cross = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/cross");
    let mut child = Command::new("python3")
        .args(["-c", REFERENCE])
        .env("KEYWHEEL_CROSS_DIR", cross)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 is needed for the independent key computation");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(serde_json::to_string(&input).unwrap().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "stek_reference.py failed");
    let answers: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(answers.len(), queries.len());
    answers
}

pub fn reference1(query: &Query) -> Value {
    reference(std::slice::from_ref(query)).pop().unwrap()
}

/// The expected files of a server-format answer: relative path ("" for the single file) →
/// bytes.
pub fn files(answer: &Value) -> BTreeMap<String, Vec<u8>> {
    answer["files"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), unhex(v.as_str().unwrap())))
        .collect()
}

/// The expected HAProxy lines (base64 of c-1, c, c+1).
pub fn lines(answer: &Value) -> [String; 3] {
    let v: Vec<String> = answer["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap().to_owned())
        .collect();
    v.try_into().unwrap()
}

/// A temporary directory on tmpfs (/dev/shm) with a main key file (mode 0600).
pub struct StekFixture {
    pub dir: TempDir,
}

impl StekFixture {
    pub fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("keywheel-stek-test-")
            .tempdir_in("/dev/shm")
            .unwrap();
        let f = StekFixture { dir };
        f.write_key("main.key", &test_key(), 0o600);
        f
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn arg(&self, name: &str) -> String {
        self.path(name).to_str().unwrap().to_owned()
    }

    pub fn key(&self) -> String {
        self.arg("main.key")
    }

    pub fn write_key(&self, name: &str, bytes: &[u8], mode: u32) -> String {
        use std::os::unix::fs::PermissionsExt;
        let path = self.path(name);
        fs::write(&path, bytes).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
        self.arg(name)
    }

    /// Every entry under `sub` (recursively, relative paths, symlinks as "name -> target").
    pub fn listing(&self, sub: &str) -> Vec<String> {
        let mut out = Vec::new();
        list(&self.path(sub), "", &mut out);
        out.sort();
        out
    }
}

fn list(dir: &Path, prefix: &str, out: &mut Vec<String>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for e in entries {
        let e = e.unwrap();
        let name = format!("{prefix}{}", e.file_name().to_str().unwrap());
        let t = e.file_type().unwrap();
        if t.is_symlink() {
            let target = fs::read_link(e.path()).unwrap();
            out.push(format!("{name} -> {}", target.display()));
        } else if t.is_dir() {
            out.push(format!("{name}/"));
            list(&e.path(), &format!("{name}/"), out);
        } else {
            out.push(name);
        }
    }
}

/// One `tls-ticket-keys` ring of the fake HAProxy: three slots and the encrypting index, as
/// HAProxy 2.6 keeps them (tests/servers/haproxy-notes.md section 1).
#[derive(Clone, Debug)]
pub struct Ring {
    pub file: String,
    pub slots: [String; 3],
    pub enc: usize,
}

impl Ring {
    /// A ring holding [previous, current, next].
    pub fn new(file: &str, keys: &[String; 3]) -> Ring {
        Ring {
            file: file.to_owned(),
            slots: keys.clone(),
            enc: 1,
        }
    }

    /// What `show tls-keys` lists: previous, current, next.
    pub fn held(&self) -> [String; 3] {
        [0, 1, 2].map(|k| self.slots[(self.enc + 2 + k) % 3].clone())
    }
}

/// The fake HAProxy's state, shared with the test.
#[derive(Debug, Default)]
pub struct FakeState {
    pub rings: Vec<Ring>,
    /// Every command received, keys replaced by "<key>".
    pub commands: Vec<String>,
    /// `set ssl tls-key` commands that changed a ring.
    pub pushes: usize,
    /// Answer every `set ssl tls-key` with this instead of acting on it.
    pub set_answer: Option<String>,
    /// Answer "updated" but change nothing.
    pub ignore_sets: bool,
    /// Before the first push, "reload": the ring of this file is reset to these keys.
    pub reload_before_first_push: Option<[String; 3]>,
}

/// A fake HAProxy stats socket speaking the part of the runtime API keywheel uses:
/// `show tls-keys`, `show tls-keys <#id|file>` and `set ssl tls-key <#id|file> <base64>`, with
/// HAProxy 2.6's answers and ring semantics (tests/servers/haproxy-notes.md section 3).
pub struct FakeHaproxy {
    pub path: PathBuf,
    pub state: Arc<Mutex<FakeState>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl FakeHaproxy {
    pub fn start(path: &Path, rings: Vec<Ring>) -> FakeHaproxy {
        let listener = UnixListener::bind(path).unwrap();
        let state = Arc::new(Mutex::new(FakeState {
            rings,
            ..FakeState::default()
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let (st, sp) = (state.clone(), stop.clone());
        // Non-blocking accept, polled, so that stopping never depends on the socket file.
        listener.set_nonblocking(true).unwrap();
        let thread = thread::spawn(move || {
            while !sp.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((conn, _)) => {
                        conn.set_nonblocking(false).unwrap();
                        serve(conn, &st);
                    }
                    Err(_) => thread::sleep(std::time::Duration::from_millis(5)),
                }
            }
        });
        FakeHaproxy {
            path: path.to_owned(),
            state,
            stop,
            thread: Some(thread),
        }
    }

    pub fn held(&self, i: usize) -> [String; 3] {
        self.state.lock().unwrap().rings[i].held()
    }

    pub fn pushes(&self) -> usize {
        self.state.lock().unwrap().pushes
    }
}

impl Drop for FakeHaproxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let _ = fs::remove_file(&self.path);
    }
}

fn serve(conn: UnixStream, state: &Mutex<FakeState>) {
    let mut line = String::new();
    if BufReader::new(&conn).read_line(&mut line).is_err() {
        return;
    }
    let mut answer = String::new();
    for cmd in line.trim_end_matches('\n').split("; ") {
        answer.push_str(&execute(cmd, &mut state.lock().unwrap()));
    }
    let mut conn = conn;
    let _ = conn.write_all(answer.as_bytes());
}

fn find(rings: &[Ring], which: &str) -> Option<usize> {
    match which.strip_prefix('#') {
        Some(id) => id.parse().ok().filter(|&i| i < rings.len()),
        None => rings.iter().position(|r| r.file == which),
    }
}

fn execute(cmd: &str, st: &mut FakeState) -> String {
    let words: Vec<&str> = cmd.split(' ').collect();
    match words[..] {
        ["show", "tls-keys"] => {
            st.commands.push(cmd.to_owned());
            let mut out = "# id (file)\n".to_owned();
            for (i, r) in st.rings.iter().enumerate() {
                out.push_str(&format!("{i} ({})\n", r.file));
            }
            out + "\n"
        }
        ["show", "tls-keys", which] => {
            st.commands.push(cmd.to_owned());
            let Some(i) = find(&st.rings, which) else {
                return "'show tls-keys' unable to locate referenced filename\n\n".to_owned();
            };
            let r = &st.rings[i];
            let mut out = format!("# id secret\n# {i} ({})\n", r.file);
            for (k, key) in r.held().iter().enumerate() {
                out.push_str(&format!("{i}.{k} {key}\n"));
            }
            out + "\n"
        }
        ["set", "ssl", "tls-key", which, key] => {
            st.commands.push(format!("set ssl tls-key {which} <key>"));
            if let Some(a) = &st.set_answer {
                return a.clone();
            }
            let Some(i) = find(&st.rings, which) else {
                return "'set ssl tls-key' unable to locate referenced filename\n\n".to_owned();
            };
            if key.len() != st.rings[i].slots[0].len() {
                return "'set ssl tls-key' received a key of wrong size.\n\n".to_owned();
            }
            if st.ignore_sets {
                return "TLS ticket key updated!\n\n".to_owned();
            }
            if let Some(keys) = st.reload_before_first_push.take() {
                let file = st.rings[i].file.clone();
                st.rings[i] = Ring::new(&file, &keys);
            }
            let r = &mut st.rings[i];
            r.slots[(r.enc + 2) % 3] = key.to_owned();
            r.enc = (r.enc + 1) % 3;
            st.pushes += 1;
            "TLS ticket key updated!\n\n".to_owned()
        }
        _ => {
            st.commands.push(cmd.to_owned());
            "Unknown command.\n\n".to_owned()
        }
    }
}
