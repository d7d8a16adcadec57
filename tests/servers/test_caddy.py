"""Caddy (Debian 12: caddy 2.6.2, Go 1.19.8) with keywheel's `caddy` format: the seeds of SPEC.md
section 4.5 in Caddy's `stek/stek.bin` (a Go gob) under a `file_system` storage root that
Caddy's `distributed` session-ticket provider reads.

Each instance runs `caddy run` on 127.0.0.1 with its own config, storage roots, HOME/XDG dirs
and log in a temp dir; certificates come from `load_files`; the admin API is off, or on a unix
socket in the temp dir for the tests that need `caddy reload`. Every file keywheel writes is
decoded by gotls.py's gob decoder (written from Go's documentation) and compared with the
reference seeds (reference.py); every ticket Caddy issues is checked against the reference: Go
1.19 puts SHA-512(seed)[0:16] in clear at the start of each ticket, followed by IV, ciphertext
and an HMAC-SHA256 whose key is SHA-512(seed)[32:48].

Without the CLI (to develop the tests): KEYWHEEL_STEK_WRITER=reference.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest

import gotls
import harness
import reference

TLS = ["1.2", "1.3"]
LABEL = "caddy-cluster"
INTERVAL = 3600
KEEP = 1


@pytest.fixture(scope="module", autouse=True)
def installed():
    harness.ensure_packages(["caddy", "openssl"])


@pytest.fixture(scope="module")
def cert(workdir):
    return harness.make_cert(workdir / "caddy-cert")


class Keys:
    """One storage root with keywheel's stek.bin for a label and main key."""

    def __init__(self, base: Path, name: str, main: bytes | None = None, label: str = LABEL,
                 interval: int = INTERVAL, keep: int = KEEP):
        self.dir = base / name
        self.dir.mkdir(parents=True)
        self.main_file = self.dir / "main.key"
        self.main = harness.write_main_key(self.main_file, main)
        self.label, self.interval, self.keep = label, interval, keep
        self.root = self.dir / "stek-root"
        self.now = 0

    @property
    def stek(self) -> Path:
        return self.root / "stek" / "stek.bin"

    def write(self, now: int | None = None) -> bytes:
        self.now = int(time.time()) if now is None else now
        gotls.write("caddy", self.label, self.main_file, self.interval, self.keep, self.root,
                    self.now)
        data = self.stek.read_bytes()
        got = gotls.decode_stek(data)
        want = gotls.expected_stek(self.main, self.label, self.now, self.interval, self.keep)
        assert got.keys == want.keys, "stek.bin keys are not the reference seeds in Go's order"
        assert (got.last_rotation, got.next_rotation) == (want.last_rotation, want.next_rotation)
        assert not (self.root / "locks" / "stek_check.lock").exists(), "lock left behind"
        assert [p.name for p in self.stek.parent.iterdir()] == ["stek.bin"], "temp file left"
        return data

    def counter(self, now: int | None = None) -> int:
        return reference.current_counter(self.now if now is None else now, self.interval)

    def seed(self, counter: int) -> bytes:
        return reference.go_seed(self.main, self.label, counter)


class Caddy:
    def __init__(self, d: Path, cert, keys: Keys, procs: list, admin: bool = False):
        d.mkdir(parents=True)
        self.dir, self.keys = d, keys
        self.port = harness.free_port()
        self.socket = d / "admin.sock" if admin else None
        cert_file, key_file = cert
        self.conf = d / "caddy.json"
        self.conf.write_text(json.dumps(config(self.port, cert_file, key_file, keys.root, d,
                                               self.socket)))
        self.env = dict(os.environ, HOME=str(d), XDG_DATA_HOME=str(d / "xdg-data"),
                        XDG_CONFIG_HOME=str(d / "xdg-config"))
        self.proc = harness.start(f"caddy {d.name}", ["caddy", "run", "--config",
                                                      str(self.conf)], d / "caddy.log", self.env)
        procs.append(self.proc)
        harness.wait_for_port(self.port, self.proc)

    def reload(self) -> None:
        """`caddy reload --force` through the unix-socket admin API: Caddy re-reads stek.bin."""
        assert self.socket is not None
        r = subprocess.run(["caddy", "reload", "--config", str(self.conf), "--address",
                            f"unix/{self.socket}", "--force"], capture_output=True, text=True,
                           env=self.env, timeout=60)
        assert r.returncode == 0, f"caddy reload failed:\n{r.stdout}{r.stderr}"


def config(port: int, cert: Path, key: Path, root: Path, d: Path, socket: Path | None) -> dict:
    return {
        "admin": {"listen": f"unix/{socket}"} if socket else {"disabled": True},
        "storage": {"module": "file_system", "root": str(d / "storage")},
        "apps": {
            "tls": {
                "certificates": {"load_files": [{"certificate": str(cert), "key": str(key)}]},
                "session_tickets": {"key_source": {
                    "provider": "distributed",
                    "storage": {"module": "file_system", "root": str(root)},
                }},
            },
            "http": {"servers": {"s": {
                "listen": [f"{harness.HOST}:{port}"],
                "automatic_https": {"disable": True},
                "tls_connection_policies": [{}],
                "routes": [{"handle": [{"handler": "static_response", "body": "ok\n"}]}],
            }}},
        },
    }


class Client:
    """openssl s_client with SNI localhost (Caddy picks the certificate by name)."""

    def __init__(self, base: Path):
        self.base, self.n = base, 0

    def connect(self, inst: Caddy, tls: str, sess_in: Path | None = None) -> harness.Handshake:
        self.n += 1
        h = harness.s_client(inst.port, tls, sess_out=self.base / f"sess{self.n}.pem",
                             sess_in=sess_in, servername="localhost")
        assert h.protocol == f"TLSv{tls}", f"handshake failed:\n{h.output[-2000:]}"
        return h

    def new_session(self, inst: Caddy, tls: str, counter: int) -> Path:
        """A full handshake; its ticket must be made with seed `counter` of inst's keys."""
        h = self.connect(inst, tls)
        assert not h.reused and h.session is not None, f"no ticket:\n{h.output[-2000:]}"
        gotls.assert_go_ticket(harness.session_ticket(h.session), inst.keys.main,
                               inst.keys.label, counter)
        return h.session


@pytest.fixture
def client(tmp_path):
    return Client(tmp_path)


def test_validate_loads_the_file_and_leaves_it_byte_identical(tmp_path, cert):
    keys = Keys(tmp_path, "k")
    data = keys.write()
    assert oct(keys.stek.stat().st_mode & 0o777) == "0o600"
    conf = tmp_path / "caddy.json"
    conf.write_text(json.dumps(config(harness.free_port(), *cert, keys.root, tmp_path, None)))
    env = dict(os.environ, HOME=str(tmp_path), XDG_DATA_HOME=str(tmp_path / "xdg"))
    r = subprocess.run(["caddy", "validate", "--config", str(conf)], capture_output=True,
                       text=True, env=env, timeout=60)
    assert r.returncode == 0 and "Valid configuration" in r.stdout + r.stderr, r.stderr
    assert keys.stek.read_bytes() == data, "caddy validate changed keywheel's stek.bin"
    # Control: validate really loads the file. One whose NextRotation is past makes Caddy rotate
    # and rewrite it (a random key first), and a truncated one makes it fail.
    past = gotls.encode_stek(reference.go_window(keys.main, LABEL, keys.now - 2 * INTERVAL,
                                                 INTERVAL, KEEP), 1_000_000, 1_000_100)
    keys.stek.write_bytes(past)
    r = subprocess.run(["caddy", "validate", "--config", str(conf)], capture_output=True,
                       text=True, env=env, timeout=60)
    assert r.returncode == 0, r.stderr
    rotated = gotls.decode_stek(keys.stek.read_bytes())
    assert rotated.keys[0] not in reference.go_window(keys.main, LABEL, keys.now - 2 * INTERVAL,
                                                      INTERVAL, KEEP)
    keys.stek.write_bytes(data[:-5])
    r = subprocess.run(["caddy", "validate", "--config", str(conf)], capture_output=True,
                       text=True, env=env, timeout=60)
    assert r.returncode != 0 and "STEK gob corrupted" in r.stderr, r.stderr


@pytest.mark.parametrize("tls", TLS)
def test_two_caddies_resume_each_other(tmp_path, cert, procs, client, tls):
    main = os.urandom(32)
    ka, kb = Keys(tmp_path, "a", main), Keys(tmp_path, "b", main)
    ka.write()
    kb.write(ka.now)
    a = Caddy(tmp_path / "caddy-a", cert, ka, procs)
    b = Caddy(tmp_path / "caddy-b", cert, kb, procs)
    for first, second in [(a, b), (b, a)]:
        s = client.new_session(first, tls, ka.counter())
        h = client.connect(second, tls, sess_in=s)
        assert h.reused, f"{first.dir.name}'s ticket not resumed by {second.dir.name}: {h}"
    assert ka.stek.read_bytes() == kb.stek.read_bytes()


@pytest.mark.parametrize("tls", TLS)
def test_another_label_does_not_resume(tmp_path, cert, procs, client, tls):
    main = os.urandom(32)
    ka, kb = Keys(tmp_path, "a", main), Keys(tmp_path, "b", main, label="another-label")
    ka.write()
    kb.write(ka.now)
    a = Caddy(tmp_path / "caddy-a", cert, ka, procs)
    b = Caddy(tmp_path / "caddy-b", cert, kb, procs)
    s = client.new_session(a, tls, ka.counter())
    h = client.connect(b, tls, sess_in=s)
    assert not h.reused, f"a ticket of label {LABEL!r} resumed under another label"
    assert h.session is not None
    gotls.assert_go_ticket(harness.session_ticket(h.session), kb.main, kb.label, kb.counter())


@pytest.mark.parametrize("tls", TLS)
def test_rotation_keeps_previous_interval_tickets(tmp_path, cert, procs, client, tls):
    """Fake time: interval c, then c + 1 (rewrite + caddy reload): c's ticket still resumes
    and new tickets use c + 1; after c + 2 (keep 1) c's ticket no longer resumes."""
    keys = Keys(tmp_path, "k")
    t0 = int(time.time())
    keys.write(t0)
    c = keys.counter()
    inst = Caddy(tmp_path / "caddy", cert, keys, procs, admin=True)
    old = client.new_session(inst, tls, c)
    keys.write(t0 + INTERVAL)
    inst.reload()
    h = client.connect(inst, tls, sess_in=old)
    assert h.reused, f"previous interval's ticket not resumed after rotation: {h}"
    client.new_session(inst, tls, c + 1)
    keys.write(t0 + 2 * INTERVAL)
    inst.reload()
    h = client.connect(inst, tls, sess_in=old)
    assert not h.reused, "a ticket older than keep intervals was resumed"


def test_every_kept_key_is_used_beyond_caddys_max_keys(tmp_path, cert, procs, client):
    """keep 5: 7 seeds, more than Caddy's max_keys (4), which Caddy applies only to keys it
    rotates itself: a ticket of the oldest kept interval (the 7th seed) still resumes."""
    keys = Keys(tmp_path, "k", keep=5)
    t0 = int(time.time())
    c = keys.counter(t0)
    # Set-up (not keywheel's output): Caddy encrypts with seed c - 5 for now.
    keys.stek.parent.mkdir(parents=True)
    keys.stek.write_bytes(gotls.encode_stek([keys.seed(c - 5)], t0 - 10, t0 + INTERVAL))
    inst = Caddy(tmp_path / "caddy", cert, keys, procs, admin=True)
    old = client.new_session(inst, "1.2", c - 5)
    keys.write(t0)
    assert len(gotls.decode_stek(keys.stek.read_bytes()).keys) == 7
    inst.reload()
    assert client.connect(inst, "1.2", sess_in=old).reused, "the 7th seed was not used"
    keys.write(t0 + INTERVAL)
    inst.reload()
    assert not client.connect(inst, "1.2", sess_in=old).reused


def test_caddy_never_writes_a_key_of_its_own(tmp_path, cert, procs, client):
    """Through Caddy's own NextRotation timer: keywheel rewrites the file 2 s after the
    boundary (as its daemon does); when the timer fires (boundary + grace) Caddy re-reads the
    file and switches to the new current seed, and never writes stek.bin itself."""
    interval = 20
    keys = Keys(tmp_path, "k", interval=interval, keep=1)
    keys.write()
    c = keys.counter()
    inst = Caddy(tmp_path / "caddy", cert, keys, procs)
    client.new_session(inst, "1.2", c)
    boundary = (c + 1) * interval
    time.sleep(max(0.0, boundary + 2.1 - time.time()))
    written = keys.write()
    assert keys.counter() == c + 1
    next_rotation = boundary + gotls.default_grace(interval)
    time.sleep(max(0.0, next_rotation + 2 - time.time()))
    assert keys.stek.read_bytes() == written, "Caddy rewrote stek.bin (it rotated on its own)"
    client.new_session(inst, "1.2", c + 1)  # the timer made Caddy load keywheel's next file
    assert keys.stek.read_bytes() == written


def test_a_caddy_that_rotated_is_repaired(tmp_path, cert, procs, client):
    """A Caddy that found NextRotation past rotated on its own (random key first, keywheel's
    keys after it); keywheel's rewrite and `caddy reload --force` put it back on the cluster's
    keys."""
    keys = Keys(tmp_path, "k")
    now = int(time.time())
    keys.write(now - 2 * INTERVAL)  # as if keywheel had stopped two intervals ago
    stale = reference.go_window(keys.main, LABEL, now - 2 * INTERVAL, INTERVAL, KEEP)
    inst = Caddy(tmp_path / "caddy", cert, keys, procs, admin=True)
    rotated = gotls.decode_stek(keys.stek.read_bytes())
    assert rotated.keys[0] not in stale and rotated.keys[1:] == stale[:len(rotated.keys) - 1], \
        "expected Caddy to have rotated on its own (the scenario's premise)"
    h = client.connect(inst, "1.2")
    assert h.session is not None
    with pytest.raises(AssertionError):  # Caddy's own random key
        gotls.assert_go_ticket(harness.session_ticket(h.session), keys.main, LABEL,
                               keys.counter(now))
    keys.write(now)  # the repair: keywheel's file again ...
    inst.reload()    # ... and the reload command
    client.new_session(inst, "1.2", keys.counter(now))
    peer = Keys(tmp_path, "peer", keys.main)
    peer.write(now)
    other = Caddy(tmp_path / "caddy-peer", cert, peer, procs)
    s = client.new_session(other, "1.2", peer.counter())
    assert client.connect(inst, "1.2", sess_in=s).reused


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(harness.keywheel_bin()), "stek", *args], capture_output=True,
                          text=True, timeout=120)


@pytest.fixture
def cli_only():
    if harness.writer() != "cli":
        pytest.skip("checks the CLI's errors: needs KEYWHEEL_STEK_WRITER=cli")


def test_bad_values_are_refused_and_nothing_is_written(tmp_path, cli_only):
    keys = Keys(tmp_path, "k")
    common = ["--format", "caddy", "--label", LABEL, "--main-key", str(keys.main_file),
              "--once", "--allow-persistent", "--time", str(int(time.time()))]
    r = _cli("--format", "caddy2", "--label", LABEL, "--main-key", str(keys.main_file),
             "--once", "--allow-persistent", "--out", str(keys.root))
    assert r.returncode == 2 and "format 'caddy2' is unknown" in r.stderr, r.stderr
    assert "go, go-json, caddy" in r.stderr, r.stderr
    assert not keys.root.exists()
    r = _cli(*common, "--owner", "no-such-user-kw", "--out", str(keys.root))
    assert r.returncode == 2 and "user 'no-such-user-kw' does not exist" in r.stderr, r.stderr
    assert not keys.root.exists()
    r = _cli(*common, "--interval", "86400", "--keep", "7", "--out", str(keys.root))
    assert r.returncode != 0 and "keep 7" in r.stderr and "0..=6" in r.stderr, r.stderr
    assert not keys.root.exists()
    not_a_dir = tmp_path / "file"
    not_a_dir.write_bytes(b"x")
    r = _cli(*common, "--interval", "86400", "--keep", "1", "--out", str(not_a_dir))
    assert r.returncode != 0 and str(not_a_dir) in r.stderr, r.stderr
    assert not_a_dir.read_bytes() == b"x"


def test_a_storage_root_that_is_not_writable_is_refused(cli_only):
    """keywheel running as a user that may not write the storage root (nobody; the root is
    root's, 0755): an error naming the directory, a non-zero exit, nothing written."""
    base = Path(tempfile.mkdtemp(prefix="keywheel-caddy-"))  # nobody must reach it: not tmp_path
    try:
        base.chmod(0o755)
        main = base / "main.key"
        harness.write_main_key(main)
        os.chown(main, 65534, 65534)
        root = base / "root"
        root.mkdir(mode=0o755)
        r = subprocess.run(["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups",
                            str(harness.keywheel_bin()), "stek", "--format", "caddy", "--label",
                            LABEL, "--main-key", str(main), "--out", str(root), "--once",
                            "--allow-persistent"], capture_output=True, text=True, timeout=60)
        assert r.returncode == 1, r.stderr
        assert f"creating directory {root}/stek: Permission denied" in r.stderr, r.stderr
        assert list(root.iterdir()) == []
    finally:
        shutil.rmtree(base)


def test_the_cli_repairs_a_caddy_that_rotated_and_reloads_only_then(tmp_path, cli_only):
    """The reload command runs only to repair: not at a rotation (Caddy's own timer re-reads
    keywheel's next file), but when stek.bin shows that Caddy rotated on its own or holds
    foreign keys; the file is rewritten with keywheel's keys either way."""
    keys = Keys(tmp_path, "k")
    now = int(time.time())
    keys.write(now - INTERVAL)  # keywheel's file of the previous interval
    marker = tmp_path / "reloads"
    want = gotls.expected_stek(keys.main, LABEL, now, INTERVAL, KEEP)

    def run(t: int) -> subprocess.CompletedProcess:
        r = _cli("--format", "caddy", "--label", LABEL, "--main-key", str(keys.main_file),
                 "--interval", str(INTERVAL), "--keep", str(KEEP), "--out", str(keys.root),
                 "--once", "--allow-persistent", "--time", str(t),
                 "--reload", f"echo $KEYWHEEL_COUNTER >> {marker}")
        assert r.returncode == 0, r.stderr
        got = gotls.decode_stek(keys.stek.read_bytes())
        assert (got.keys, got.last_rotation, got.next_rotation) == \
            (want.keys, want.last_rotation, want.next_rotation)
        assert [p.name for p in keys.stek.parent.iterdir()] == ["stek.bin"]
        return r

    run(now)
    assert not marker.exists(), "a rotation ran the reload command"
    c = keys.counter(now)
    # What Caddy writes when it rotates on its own: a random key first, then the old ones.
    rotated = [os.urandom(32)] + want.keys[:3]
    keys.stek.write_bytes(gotls.encode_stek(rotated, now, now + 43200))
    r = run(now)
    assert "Caddy had rotated on its own" in r.stderr, r.stderr
    assert marker.read_text() == f"{c}\n"
    foreign = reference.go_window(keys.main, "another-label", now, INTERVAL, KEEP)
    keys.stek.write_bytes(gotls.encode_stek(foreign, now, now + 43200))
    r = run(now)
    assert "held no key of keywheel's" in r.stderr, r.stderr
    assert marker.read_text() == f"{c}\n{c}\n"
    r = run(now)  # keywheel's file already: nothing to write, nothing to reload
    assert "already holds these keys" in r.stderr, r.stderr
    assert marker.read_text() == f"{c}\n{c}\n"


def test_a_lock_held_by_a_live_caddy_is_not_broken(tmp_path, cli_only):
    """A fresh `stek_check` lock refreshed every 2 s (as a live Caddy does every 5 s): keywheel
    waits, gives up with an error naming the lock, and leaves stek.bin as it was."""
    keys = Keys(tmp_path, "k")
    before = keys.write()
    lock = keys.root / "locks" / "stek_check.lock"
    stop = threading.Event()

    def refresh():
        while not stop.is_set():
            t = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + ".5Z"
            lock.write_text(json.dumps({"created": t, "updated": t}) + "\n")
            stop.wait(2)

    th = threading.Thread(target=refresh, daemon=True)
    th.start()
    try:
        r = _cli("--format", "caddy", "--label", LABEL, "--main-key", str(keys.main_file),
                 "--interval", str(INTERVAL), "--keep", str(KEEP), "--out", str(keys.root),
                 "--once", "--allow-persistent", "--time", str(keys.now + INTERVAL))
    finally:
        stop.set()
        th.join()
    assert r.returncode != 0 and "stek_check.lock" in r.stderr, r.stderr
    assert keys.stek.read_bytes() == before
    assert [p.name for p in keys.stek.parent.iterdir()] == ["stek.bin"]


@pytest.mark.parametrize("tls", TLS)
def test_caddy_and_the_go_example_share_tickets(tmp_path, workdir, cert, procs, client, tls):
    """One label's seeds serve Caddy (stek.bin) and a Go 1.19 server (--format go) alike."""
    import test_go

    binary = gotls.build_goserver(workdir)
    keys = Keys(tmp_path, "caddy")
    keys.write()
    seeds = test_go.Seeds(tmp_path, "go", keys.main, label=LABEL)
    seeds.write(keys.now)
    caddy = Caddy(tmp_path / "caddy-a", cert, keys, procs)
    go = test_go.GoServer(binary, tmp_path / "go-b", cert, seeds, procs)
    for first, second in [(caddy, go), (go, caddy)]:
        h = harness.s_client(first.port, tls, sess_out=tmp_path / "s.pem", servername="localhost")
        assert h.session is not None, h.output[-2000:]
        gotls.assert_go_ticket(harness.session_ticket(h.session), keys.main, LABEL,
                               keys.counter())
        h = harness.s_client(second.port, tls, sess_in=h.session, servername="localhost")
        assert h.reused, f"ticket of {type(first).__name__} not resumed by the other: {h}"


def _lock_json(t: float) -> str:
    """The lock content keywheel writes (cli/src/servers/caddy.rs lock_content): Go's
    RFC3339Nano in UTC, created = updated, compact JSON and a newline."""
    import datetime

    s = datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")
    s = s.rstrip("0").rstrip(".") + "Z"
    return json.dumps({"created": s, "updated": s}, separators=(",", ":")) + "\n"


def test_caddy_honours_a_lock_in_keywheels_format(tmp_path, cert, procs):
    """certmagic (in Debian's caddy) reads keywheel's lock file: a fresh one makes Caddy wait
    (it neither reads nor writes stek.bin while it is there), a stale one (11 s) is removed.
    No keywheel binary is involved: this checks the lock format against the real program."""
    keys = Keys(tmp_path, "k")
    lock = keys.root / "locks" / "stek_check.lock"
    lock.parent.mkdir(parents=True)
    lock.write_text(_lock_json(time.time()))
    conf = tmp_path / "caddy.json"
    port = harness.free_port()
    conf.write_text(json.dumps(config(port, *cert, keys.root, tmp_path, None)))
    env = dict(os.environ, HOME=str(tmp_path), XDG_DATA_HOME=str(tmp_path / "xdg"))
    proc = harness.start("caddy", ["caddy", "run", "--config", str(conf)], tmp_path / "log", env)
    procs.append(proc)
    time.sleep(3)
    assert proc.alive() and not keys.stek.exists() and not harness.port_open(port), \
        "Caddy went ahead while keywheel's lock was held"
    lock.unlink()
    harness.wait_for_port(port, proc)
    assert keys.stek.exists()  # Caddy made its own keys: there was no file
    proc.stop()
    # A stale lock (last refreshed 11 s ago) is removed and Caddy starts at once.
    keys.stek.unlink()
    lock.write_text(_lock_json(time.time() - 11))
    started = time.monotonic()
    proc = harness.start("caddy", ["caddy", "run", "--config", str(conf)], tmp_path / "log", env)
    procs.append(proc)
    harness.wait_for_port(port, proc)
    assert time.monotonic() - started < 3 and not lock.exists() and keys.stek.exists()


def test_run_status_and_check_read_the_files_back(tmp_path, cli_only):
    """`keywheel run` with [[stek]] targets of the caddy, go and go-json formats writes the
    reference seeds; `keywheel status` reads each file back (Go's key names, computed here with
    hashlib) and `keywheel check` says OK; a stek.bin that Caddy rotated on its own is reported
    as wrong, naming the cause, and is CRITICAL."""
    import hashlib

    main_file = tmp_path / "main.key"
    main = harness.write_main_key(main_file)
    root, seeds, js = tmp_path / "caddy-root", tmp_path / "go.seeds", tmp_path / "go.json"
    interval = 86400
    conf = tmp_path / "keywheel.toml"
    targets = [("caddy", "caddy", root), ("go", "go", seeds), ("go-json", "go-json", js)]
    conf.write_text(f'main_key = "{main_file}"\n' + "".join(
        f'\n[[stek]]\nname = "{name}"\nformat = "{fmt}"\nlabel = "{LABEL}"\nout = "{out}"\n'
        f'interval = {interval}\nkeep = 2\nallow_persistent = true\n'
        for name, fmt, out in targets))
    kw = str(harness.keywheel_bin())
    r = subprocess.run([kw, "run", "--config", str(conf), "--once"], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    now = int(time.time())
    window = reference.go_window(main, LABEL, now, interval, 2)
    names = [hashlib.sha512(s).digest()[:16].hex() for s in window]
    got = gotls.decode_stek((root / "stek" / "stek.bin").read_bytes())
    want = gotls.expected_stek(main, LABEL, now, interval, 2)
    assert (got.keys, got.last_rotation, got.next_rotation) == \
        (want.keys, want.last_rotation, want.next_rotation)
    assert seeds.read_bytes() == b"".join(window)
    assert json.loads(js.read_text()) == gotls.go_json(main, LABEL, now, interval, 2)

    def status() -> dict:
        r = subprocess.run([kw, "status", "--json", "--config", str(conf)], capture_output=True,
                           text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        return {t["name"]: t for t in json.loads(r.stdout)["targets"]}

    for name, t in status().items():
        assert t["state"] == "fresh", (name, t)
        assert t["installed_names"] == names, name
        assert [k["name"] for k in t["keys"]] == names, name
        assert t["fingerprint"] == names[0], name
    r = subprocess.run([kw, "check", "--config", str(conf)], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0 and r.stdout.startswith("KEYWHEEL OK"), r.stdout + r.stderr
    (root / "stek" / "stek.bin").write_bytes(
        gotls.encode_stek([os.urandom(32)] + window[:3], now, now + 43200))
    t = status()["caddy"]
    assert t["state"] == "wrong" and "Caddy rotated on its own" in t["problem"], t
    r = subprocess.run([kw, "check", "--config", str(conf)], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 2 and "caddy CRITICAL" in r.stdout, r.stdout + r.stderr


def test_owner_gets_the_storage_root(tmp_path, cli_only):
    """--owner (Debian: caddy): the directories keywheel creates, stek.bin and nothing else are
    given to that user, with certmagic's modes (0700 directories, 0600 file)."""
    keys = Keys(tmp_path, "k")
    harness.write_keys("caddy", LABEL, keys.main_file, INTERVAL, KEEP, keys.root,
                       int(time.time()), ["--owner", "nobody"])
    for p, mode in [(keys.root, 0o700), (keys.root / "stek", 0o700), (keys.stek, 0o600),
                    (keys.root / "locks", 0o700)]:
        st = p.stat()
        assert (st.st_uid, st.st_gid, st.st_mode & 0o7777) == (65534, 65534, mode), p
    assert list((keys.root / "locks").iterdir()) == []
