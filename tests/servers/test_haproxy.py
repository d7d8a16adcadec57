"""HAProxy (Debian 12: 2.6) with keywheel's `haproxy` (80-byte) and `haproxy48` (48-byte) files,
and rotation through HAProxy's runtime API without a reload (see haproxy-notes.md).

Each instance is a foreground master-worker `haproxy -W` with its own config, port and admin
stats socket; all instances share one certificate, and run with `tune.ssl.cachesize 0` so that
every resumption is proven to be by ticket. A reload is SIGUSR2 to the master (what `systemctl
reload haproxy` does); done when the old worker has exited and the stats socket answers with the
new worker's pid. What HAProxy holds is read back with `show tls-keys #<id>` (previous, current,
next) and compared with reference.py; the worker pid (`show info`) proves a socket rotation did
not reload.
"""

from __future__ import annotations

import base64
import itertools
import re
import shutil
import signal
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

import harness
import reference

FORMATS = ["haproxy", "haproxy48"]
TLS = ["1.2", "1.3"]
T0 = 1_700_000_000  # fake unix time of the keys (servers and tickets use real time)
INTERVAL = 3600
C0 = T0 // INTERVAL  # the current counter at T0
LABEL = "shop.example"
OTHER_LABEL = "blog.example"


@pytest.fixture(scope="module", autouse=True)
def installed():
    harness.ensure_packages(["haproxy", "openssl"])


# --- the runtime API (stats socket) ----------------------------------------------------------


def cli(sock: Path, command: str, timeout: float = 10) -> str:
    """One command line on HAProxy's stats socket (non-interactive: HAProxy answers, then
    closes)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(str(sock))
        s.sendall(command.encode() + b"\n")
        chunks = []
        while True:
            d = s.recv(65536)
            if not d:
                break
            chunks.append(d)
    return b"".join(chunks).decode(errors="replace")


def ring_id(sock: Path, keys: Path) -> str:
    """`#<id>` of the tls-ticket-keys ring loaded from `keys` (`show tls-keys`)."""
    out = cli(sock, "show tls-keys")
    lines = out.splitlines()
    assert lines and lines[0] == "# id (file)", f"unexpected `show tls-keys` answer: {out!r}"
    for line in lines[1:]:
        m = re.fullmatch(r"(\d+) \((.*)\)", line)
        if m and m.group(2) == str(keys):
            return "#" + m.group(1)
    raise AssertionError(f"HAProxy has no tls-ticket-keys ring for {keys}: {out!r}")


def ring(sock: Path, keys: Path) -> list[bytes]:
    """The three keys HAProxy holds for `keys`, oldest first: [previous, current, next]
    (`show tls-keys #<id>` prints slot (enc + 2 + k) % 3 as line `<id>.<k>`)."""
    rid = ring_id(sock, keys)
    out = cli(sock, f"show tls-keys {rid}")
    got = {}
    for line in out.splitlines():
        m = re.fullmatch(rf"{rid[1:]}\.(\d+) (\S+)", line)
        if m:
            got[int(m.group(1))] = base64.b64decode(m.group(2), validate=True)
    # (no key material in the message)
    assert sorted(got) == [0, 1, 2], f"`show tls-keys {rid}` gave entries {sorted(got)}"
    return [got[0], got[1], got[2]]


def worker_pid(sock: Path) -> int:
    """Pid of the worker that answers on the stats socket (`show info`)."""
    m = re.search(r"^Pid: (\d+)$", cli(sock, "show info"), re.M)
    assert m, "no Pid in `show info`"
    return int(m.group(1))


def expected_ring(ks: KeySet, counter: int) -> list[bytes]:
    """Reference records (name | aes | hmac) of counters counter-1, counter, counter+1."""
    strength, layout = reference.FORMATS[ks.fmt]
    return [reference.ticket_key(ks.main, ks.label, strength, n).record(layout)
            for n in (counter - 1, counter, counter + 1)]


def describe(ks: KeySet, keys: list[bytes]) -> list:
    """Counters (of ks's main key and label) whose reference names the keys carry, for messages."""
    strength = reference.FORMATS[ks.fmt][0]
    names = {reference.ticket_key(ks.main, ks.label, strength, n).name: n
             for n in range(C0 - 20, C0 + 21)}
    return [names.get(k[:16], f"unknown/{len(k)}B") for k in keys]


def assert_ring(sock: Path, keys: Path, ks: KeySet, counter: int) -> None:
    held = ring(sock, keys)
    want = expected_ring(ks, counter)
    assert held == want, (f"HAProxy holds counters {describe(ks, held)}, expected "
                          f"{[counter - 1, counter, counter + 1]} (previous, current, next)")


# --- rotation through the socket --------------------------------------------------------------


_SYNCED = re.compile(r"^info: HAProxy at .*: ring #\d+ of .* holds counters (\d+), (\d+), (\d+) "
                     r"\(previous, current, next\); (?:already held them|pushed (\d) keys?)", re.M)


def run_stek(ks: KeySet, now: int, *extra: str) -> subprocess.CompletedProcess:
    """`keywheel stek` for ks at fake time `now` (the main key comes from a file, never argv)."""
    cmd = [str(harness.keywheel_bin()), "stek", "--format", ks.fmt, "--label", ks.label,
           "--main-key", str(ks.main_file), "--interval", str(INTERVAL), "--keep", "1",
           "--out", str(ks.out), "--time", str(now), "--allow-persistent", *extra]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60)


def rotate_via_socket(inst: "HaproxyInstance", ks: KeySet, now: int) -> int:
    """`keywheel stek --once --time NOW --haproxy-socket SOCK`: rewrite the file and bring the
    running HAProxy to the keys of `now` through its admin socket, no reload. Returns how many
    keys the CLI says it pushed (what HAProxy then holds is checked by the caller)."""
    if harness.writer() != "cli":
        pytest.skip("rotation through the socket needs the real `keywheel stek --haproxy-socket`")
    r = run_stek(ks, now, "--once", "--haproxy-socket", str(inst.sock))
    assert r.returncode == 0, f"keywheel stek exited {r.returncode}:\n{r.stderr}"
    ks.now = now
    m = _SYNCED.search(r.stderr)
    assert m, f"no HAProxy line in keywheel's output:\n{r.stderr}"
    c = reference.current_counter(now, INTERVAL)
    assert [int(x) for x in m.group(1, 2, 3)] == [c - 1, c, c + 1], r.stderr
    return int(m.group(4) or 0)


# --- instances --------------------------------------------------------------------------------


class HaproxyInstance:
    def __init__(self, d: Path, sock: Path, cert_bundle: Path, keys: Path, procs: list):
        self.dir = d
        self.sock = sock
        self.keys = keys
        self.port = harness.free_port()
        cfg = d / "haproxy.cfg"
        cfg.write_text(f"""\
global
    stats socket {sock} mode 600 level admin
    tune.ssl.cachesize 0
    tune.ssl.lifetime 3600
    nbthread 1
    # an old worker that still holds a connection after a reload must not outlive the test's
    # wait for the new generation
    hard-stop-after 5s

defaults
    mode http
    timeout client 10s
    timeout connect 10s
    timeout server 10s

frontend fe
    bind 127.0.0.1:{self.port} ssl crt {cert_bundle} tls-ticket-keys {keys}
    http-request return status 200 content-type text/plain string "ok"
""")
        self.proc = harness.start(f"haproxy {d.name}", ["haproxy", "-W", "-f", str(cfg)],
                                  d / "haproxy.log")
        procs.append(self.proc)
        harness.wait_for_port(self.port, self.proc)
        self.pid = harness.wait_until(self._answering_pid, 30, f"stats socket {sock}")

    def _answering_pid(self) -> int | None:
        if not self.proc.alive():
            raise RuntimeError(f"haproxy exited:\n{self.proc.log_tail()}")
        try:
            return worker_pid(self.sock)
        except (OSError, AssertionError):  # not bound yet, or being handed over in a reload
            return None

    def _reloads_logged(self) -> int:
        return self.proc.log.read_text(errors="replace").count("Reloading HAProxy")

    def reload(self) -> None:
        """systemctl reload haproxy: SIGUSR2 to the master; the new worker re-reads the file.

        HAProxy 2.6's master ignores a SIGUSR2 that comes while it re-executes itself into its
        wait mode, just after a (re)load (seen: the signal is caught, nothing logged, no
        reload). So the signal is sent again until the master logs "Reloading HAProxy" (once
        is enough when the master has settled; never more than twice observed)."""
        old = harness.children(self.proc.pid)
        old_pid = self.pid
        before = self._reloads_logged()

        def started() -> bool:
            self.proc.signal(signal.SIGUSR2)
            try:
                harness.wait_until(lambda: self._reloads_logged() > before, 1, "reload")
                return True
            except TimeoutError:
                return False

        harness.wait_until(started, 30, "the master to start a reload", step=0)
        harness.wait_new_generation(self.proc.pid, old)
        self.pid = harness.wait_until(lambda: (p := self._answering_pid()) != old_pid and p,
                                      30, "the new worker on the stats socket")
        assert self.proc.alive(), self.proc.log_tail()


class HaproxyKind:
    """Starts instances in a test's temp dir; their sockets go to a short private dir."""

    def __init__(self, base: Path, sockdir: Path, cert_bundle: Path, procs: list):
        self.base, self.sockdir, self.cert_bundle, self.procs = base, sockdir, cert_bundle, procs
        self.n = 0

    def start(self, name: str, keys: Path) -> HaproxyInstance:
        self.n += 1
        d = self.base / f"{name}-{self.n}"
        d.mkdir()
        # UNIX socket paths are limited to 108 bytes: keep them out of pytest's long tmp paths
        return HaproxyInstance(d, self.sockdir / f"{self.n}.sock", self.cert_bundle, keys,
                               self.procs)


@pytest.fixture(scope="module")
def cert_bundle(workdir) -> Path:
    cert, key = harness.make_cert(workdir / "haproxy-cert")
    bundle = workdir / "haproxy-cert" / "bundle.pem"  # HAProxy's crt: certificate + key
    bundle.write_bytes(cert.read_bytes() + key.read_bytes())
    return bundle


@pytest.fixture
def kind(tmp_path, cert_bundle, procs):
    tmp_path.chmod(0o755)
    sockdir = Path(tempfile.mkdtemp(prefix="kwhap-"))
    yield HaproxyKind(tmp_path, sockdir, cert_bundle, procs)
    for p in reversed(procs):  # stop before removing their sockets (procs stops them again: no-op)
        p.stop()
    shutil.rmtree(sockdir, ignore_errors=True)


# --- keys and client ---------------------------------------------------------------------------


@dataclass
class KeySet:
    """The files one keywheel run writes (main key file + label + format) at a fake time."""

    main_file: Path
    main: bytes
    label: str
    fmt: str
    out: Path
    now: int

    @property
    def strength(self) -> str:
        return reference.FORMATS[self.fmt][0]

    @property
    def counter(self) -> int:
        return reference.current_counter(self.now, INTERVAL)

    def write(self, now: int | None = None) -> None:
        if now is not None:
            self.now = now
        harness.write_keys(self.fmt, self.label, self.main_file, INTERVAL, 1, self.out, self.now)


_seq = itertools.count()


def keyset(base: Path, fmt: str, main: bytes | None = None, label: str = LABEL,
           now: int = T0) -> KeySet:
    """A new key directory with its main key file (random unless `main`) and a written file."""
    d = base / f"keys{next(_seq)}"
    d.mkdir()
    main_file = d / "main.key"
    m = harness.write_main_key(main_file, main)
    ks = KeySet(main_file, m, label, fmt, d / "haproxy.keys", now)
    ks.write()
    return ks


_NST = re.compile(r"^<<< (TLS 1\.[23]), Handshake \[length [0-9a-f]+\], NewSessionTicket\n"
                  r"((?:    [0-9a-f]{2}(?: [0-9a-f]{2})*(?:  -)?.*\n)+)", re.M)
_SESSION = re.compile(r"^(New|Reused), (TLSv1\.[23])", re.M)


def issued_tickets(msg_output: str) -> list[bytes]:
    """The tickets of every NewSessionTicket message in `openssl s_client -msg` output (TLS 1.2
    and 1.3 messages, decrypted, with their 4-byte handshake header)."""
    tickets = []
    for m in _NST.finditer(msg_output):
        raw = bytes.fromhex("".join(line.strip() for line in m.group(2).splitlines()))
        assert raw[0] == 4 and int.from_bytes(raw[1:4], "big") == len(raw) - 4, "bad message"
        body = raw[4:]
        pos = 4  # ticket_lifetime_hint
        if m.group(1) == "TLS 1.3":
            pos += 4  # ticket_age_add
            pos += 1 + body[pos]  # ticket_nonce
        n = int.from_bytes(body[pos:pos + 2], "big")
        tickets.append(body[pos + 2:pos + 2 + n])
    return tickets


@dataclass
class Handshake:
    output: str
    reused: bool
    protocol: str | None  # "TLSv1.2" / "TLSv1.3" as s_client reports it
    session: Path | None  # the -sess_out file, if s_client saved one

    def __str__(self) -> str:
        return f"{'Reused' if self.reused else 'New'}, {self.protocol}"


class Client:
    """`openssl s_client` connections. Every ticket a server issues (each NewSessionTicket
    message, read with -msg, not only the one -sess_out saves) is checked against the reference
    key of the expected counter: name, AES-CBC and HMAC-SHA256."""

    def __init__(self, base: Path):
        self.base = base
        self.n = 0

    def connect(self, inst: "HaproxyInstance", tls: str, ks: KeySet,
                sess_in: Path | None = None) -> tuple[Handshake, list[bytes]]:
        """One connection (request sent, -ign_eof: TLS 1.3 tickets arrive); every ticket
        issued on it must be ks's current key. Returns the handshake and the tickets."""
        self.n += 1
        sess_out = self.base / f"sess{self.n}.pem"
        cmd = ["openssl", "s_client", "-connect", f"{harness.HOST}:{inst.port}",
               f"-tls{tls.replace('.', '_')}", "-ign_eof", "-msg", "-sess_out", str(sess_out)]
        if sess_in is not None:
            cmd += ["-sess_in", str(sess_in)]
        r = subprocess.run(cmd, input=b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n",
                           capture_output=True, timeout=30)
        out = r.stdout.decode(errors="replace") + r.stderr.decode(errors="replace")
        m = _SESSION.search(out)
        h = Handshake(out, bool(m and m.group(1) == "Reused"), m.group(2) if m else None,
                      sess_out if sess_out.exists() else None)
        assert h.protocol == f"TLSv{tls}", f"handshake failed or wrong version:\n{out[-3000:]}"
        assert "HTTP/1.1 200" in out, f"no HTTP answer:\n{out[-2000:]}"
        tickets = issued_tickets(out)
        key = reference.ticket_key(ks.main, ks.label, ks.strength, ks.counter)
        for t in tickets:
            check = harness.check_ticket(t, key)
            if not check.ok():
                names = {reference.ticket_key(ks.main, ks.label, ks.strength, n).name: n
                         for n in range(ks.counter - 8, ks.counter + 9)}
                raise AssertionError(
                    f"ticket ({len(t)} bytes) is not reference key {ks.counter} ({ks.strength}):"
                    f" name {'ok' if check.name_ok else 'WRONG'} (counter"
                    f" {names.get(t[:16], 'unknown')}), hmac {'ok' if check.hmac_ok else 'WRONG'},"
                    f" aes {'ok' if check.aes_ok else 'WRONG'}")
        if h.session is not None:  # the saved ticket is one of those parsed (parser check)
            assert harness.session_ticket(h.session) in tickets
        return h, tickets

    def new_session(self, inst, tls: str, ks: KeySet) -> Path:
        h, tickets = self.connect(inst, tls, ks)
        assert not h.reused, f"expected a new session, got {h}"
        assert tickets and h.session is not None, f"no ticket received:\n{h.output[-2000:]}"
        return h.session

    def resumes(self, inst, tls: str, session: Path, ks: KeySet) -> None:
        """Resumes. A ticket under the current key is not renewed; one under another accepted
        key (next, previous) is renewed with a ticket under the current key (HAProxy's ticket
        callback returns 1 for the encrypting key, 2 for the others)."""
        presented = harness.session_ticket(session)
        h, tickets = self.connect(inst, tls, ks, sess_in=session)
        assert h.reused, f"expected Reused, TLSv{tls}, got {h}:\n{h.output[-2000:]}"
        current = reference.ticket_key(ks.main, ks.label, ks.strength, ks.counter).name
        if presented[:16] == current:
            assert not tickets, "a ticket under the current key was renewed"
        else:
            assert tickets, "a ticket under a non-current key was not renewed"

    def does_not_resume(self, inst, tls: str, session: Path, ks: KeySet) -> None:
        h, tickets = self.connect(inst, tls, ks, sess_in=session)
        assert not h.reused, f"expected a full handshake, got {h}"
        assert tickets, "the full handshake issued no ticket"


# --- file + reload (the common real-server scenarios) -----------------------------------------


@pytest.mark.parametrize("tls", TLS)
@pytest.mark.parametrize("fmt", FORMATS)
def test_shared_keys_resume_across_instances(kind, tmp_path, fmt, tls):
    """Two instances reading one keywheel-written file resume each other's tickets."""
    ks = keyset(tmp_path, fmt)
    a = kind.start("a", ks.out)
    b = kind.start("b", ks.out)
    c = Client(tmp_path)
    c.resumes(b, tls, c.new_session(a, tls, ks), ks)
    c.resumes(a, tls, c.new_session(b, tls, ks), ks)


@pytest.mark.parametrize("tls", TLS)
@pytest.mark.parametrize("fmt", FORMATS)
def test_foreign_keys_rejected(kind, tmp_path, fmt, tls):
    """Another main key or another label: no resumption either way; each instance's tickets
    are the reference keys of its own main key and label."""
    ks = keyset(tmp_path, fmt)
    other_main = keyset(tmp_path, fmt)  # fresh random main key, same label
    other_label = keyset(tmp_path, fmt, main=ks.main, label=OTHER_LABEL)
    assert other_main.main != ks.main
    a = kind.start("a", ks.out)
    m = kind.start("other-main", other_main.out)
    lbl = kind.start("other-label", other_label.out)
    c = Client(tmp_path)
    sa = c.new_session(a, tls, ks)
    c.does_not_resume(m, tls, sa, other_main)
    c.does_not_resume(lbl, tls, sa, other_label)
    c.does_not_resume(a, tls, c.new_session(m, tls, other_main), ks)
    c.does_not_resume(a, tls, c.new_session(lbl, tls, other_label), ks)
    c.resumes(a, tls, sa, ks)  # not vacuous: the instance itself resumes


@pytest.mark.parametrize("tls", TLS)
@pytest.mark.parametrize("fmt", FORMATS)
def test_rotation_with_reload_keeps_previous_key(kind, tmp_path, fmt, tls):
    """Advance the fake time one interval, rewrite, reload (SIGUSR2): the previous interval's
    ticket resumes on both instances and is renewed; one interval later it does not."""
    ks = keyset(tmp_path, fmt)
    a = kind.start("a", ks.out)
    b = kind.start("b", ks.out)
    c = Client(tmp_path)
    s0 = c.new_session(a, tls, ks)  # key C0
    ks.write(T0 + INTERVAL)
    pids = (a.pid, b.pid)
    a.reload()
    b.reload()
    assert a.pid != pids[0] and b.pid != pids[1]
    s1 = c.new_session(b, tls, ks)  # key C0 + 1
    c.resumes(a, tls, s0, ks)
    c.resumes(b, tls, s0, ks)
    ks.write(T0 + 2 * INTERVAL)  # window C0+1 .. C0+3
    a.reload()
    b.reload()
    c.does_not_resume(a, tls, s0, ks)
    c.does_not_resume(b, tls, s0, ks)
    c.resumes(a, tls, s1, ks)


@pytest.mark.parametrize("tls", TLS)
@pytest.mark.parametrize("fmt", FORMATS)
def test_clock_skew_next_key_accepted(kind, tmp_path, fmt, tls):
    """A node one interval ahead encrypts with our next key: accepted and renewed; it accepts
    our current key as its previous one."""
    behind = keyset(tmp_path, fmt)
    ahead = keyset(tmp_path, fmt, main=behind.main, now=T0 + INTERVAL)
    a = kind.start("behind", behind.out)
    b = kind.start("ahead", ahead.out)
    c = Client(tmp_path)
    c.resumes(a, tls, c.new_session(b, tls, ahead), behind)
    c.resumes(b, tls, c.new_session(a, tls, behind), ahead)


# --- HAProxy specifics ----------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_file_loads_previous_current_next(kind, tmp_path, fmt):
    """The file keywheel writes is loaded as [c-1, c, c+1] with c encrypting, and a reload
    after a rewrite loads the new set."""
    ks = keyset(tmp_path, fmt)
    a = kind.start("a", ks.out)
    assert_ring(a.sock, ks.out, ks, C0)
    lines = ks.out.read_bytes().split(b"\n")
    assert len(lines) == 4 and lines[3] == b"", "3 base64 lines, newline-terminated, no wraps"
    ks.write(T0 + INTERVAL)
    a.reload()
    assert_ring(a.sock, ks.out, ks, C0 + 1)


@pytest.mark.parametrize("fmt", FORMATS)
def test_rotation_through_socket_without_reload(kind, tmp_path, fmt):
    """Rotate two instances through their stats sockets, one interval at a time: same worker
    pid, the new current key encrypts, the previous interval's ticket still resumes (on both),
    an older one does not; a later reload loads the same keys from the rewritten file."""
    ka = keyset(tmp_path, fmt, now=T0 - INTERVAL)  # node a: keywheel's files
    kb = keyset(tmp_path, fmt, main=ka.main, now=T0 - INTERVAL)  # node b
    a = kind.start("a", ka.out)
    b = kind.start("b", kb.out)
    pids = (a.pid, b.pid)
    c = Client(tmp_path)
    old = {tls: c.new_session(a, tls, ka) for tls in TLS}  # key C0 - 1

    for inst, ks in ((a, ka), (b, kb)):
        pushes = rotate_via_socket(inst, ks, T0)
        assert pushes == 1, "one interval later is one native rotation: one push"
        assert_ring(inst.sock, ks.out, ks, C0)
    prev = {tls: c.new_session(b, tls, kb) for tls in TLS}  # the new current key C0 encrypts
    for tls in TLS:
        c.resumes(a, tls, old[tls], ka)  # C0 - 1 is still the previous key

    for inst, ks in ((a, ka), (b, kb)):
        rotate_via_socket(inst, ks, T0 + INTERVAL)
        assert_ring(inst.sock, ks.out, ks, C0 + 1)
    for tls in TLS:
        c.new_session(a, tls, ka)  # C0 + 1 encrypts
        c.resumes(a, tls, prev[tls], ka)  # previous interval's ticket, renewed under C0 + 1
        c.resumes(b, tls, prev[tls], kb)
        c.does_not_resume(a, tls, old[tls], ka)  # C0 - 1 is out of the window
        c.does_not_resume(b, tls, old[tls], kb)
    assert (worker_pid(a.sock), worker_pid(b.sock)) == pids, "a socket rotation must not reload"
    assert (harness.children(a.proc.pid), harness.children(b.proc.pid)) == ({pids[0]}, {pids[1]})

    a.reload()  # the file was rewritten too: a restart/reload loads the same keys
    assert a.pid != pids[0]
    assert_ring(a.sock, ka.out, ka, C0 + 1)
    for tls in TLS:
        c.resumes(a, tls, prev[tls], ka)


# Initial states of HAProxy before keywheel runs at fake time T0 (counter C0):
#   ("file", n): HAProxy started with the file of counter C0 + n (n < 0: keywheel was down for
#                -n intervals, or HAProxy restarted with an older file; n > 0: keys from the
#                future, e.g. the clock was stepped back);
#   ("pushed", n): file of counter C0 + n - 2 then two socket rotations (ring index wrapped);
#   ("foreign", 0): keys of another main key.
STATES = [("file", 0), ("file", -1), ("file", -2), ("file", -3), ("file", -4), ("file", 1),
          ("pushed", -4), ("foreign", 0)]


@pytest.mark.parametrize("state", STATES, ids=[f"{s}{n:+d}" for s, n in STATES])
@pytest.mark.parametrize("fmt", FORMATS)
def test_socket_rotation_from_any_state(kind, tmp_path, fmt, state):
    """After a gap (or from any other state), one socket rotation leaves HAProxy holding exactly
    [C0-1, C0, C0+1] with C0 encrypting, without a reload; tickets of the old state resume iff
    their key is in the new window."""
    how, n = state
    ks = keyset(tmp_path, fmt, now=T0)
    start = keyset(tmp_path, fmt, main=None if how == "foreign" else ks.main,
                   now=T0 + (n - 2 if how == "pushed" else n) * INTERVAL)
    # HAProxy's file is ks.out; it starts with the keys of `start` (same format)
    shutil.copyfile(start.out, ks.out)
    a = kind.start("a", ks.out)
    c = Client(tmp_path)
    if how == "pushed":
        start.out = ks.out  # keywheel rewrites the file HAProxy reads
        for _ in range(2):
            rotate_via_socket(a, start, start.now + INTERVAL)
        assert_ring(a.sock, ks.out, start, C0 + n)
    before = {tls: c.new_session(a, tls, start) for tls in TLS}  # key start.counter
    pid = a.pid

    pushes = rotate_via_socket(a, ks, T0)  # the fewest pushes (haproxy-notes.md section 4)
    assert pushes == (3 if how == "foreign" else {0: 0, -1: 1, -2: 2}.get(n, 3))
    assert_ring(a.sock, ks.out, ks, C0)
    assert worker_pid(a.sock) == pid and harness.children(a.proc.pid) == {pid}, "no reload"

    # a node that runs one interval behind (its current is our previous) shares tickets
    behind = keyset(tmp_path, fmt, main=ks.main, now=T0 - INTERVAL)
    b = kind.start("b", behind.out)
    for tls in TLS:
        c.new_session(a, tls, ks)  # C0 encrypts
        c.resumes(a, tls, c.new_session(b, tls, behind), ks)  # C0 - 1 accepted, renewed
        in_window = how != "foreign" and C0 - 1 <= start.counter <= C0 + 1
        if in_window:
            c.resumes(a, tls, before[tls], ks)
        else:
            c.does_not_resume(a, tls, before[tls], ks)
    a.reload()  # the file holds the same set
    assert_ring(a.sock, ks.out, ks, C0)


def test_socket_refuses_other_key_size(kind, tmp_path):
    """HAProxy loaded 80-byte keys: `--format haproxy48 --haproxy-socket` fails (exit 1, the
    message names both sizes) and leaves the running ring alone; the file it wrote (48-byte keys)
    is what a reload then loads."""
    ks = keyset(tmp_path, "haproxy")
    a = kind.start("a", ks.out)
    if harness.writer() != "cli":
        pytest.skip("needs the real `keywheel stek --haproxy-socket`")
    k48 = KeySet(ks.main_file, ks.main, ks.label, "haproxy48", ks.out, T0 + INTERVAL)
    r = run_stek(k48, k48.now, "--once", "--haproxy-socket", str(a.sock))
    assert r.returncode == 1, r.stderr
    assert r.stderr.count("error: ") == 1 and "48" in r.stderr and "80" in r.stderr, r.stderr
    assert_ring(a.sock, ks.out, ks, C0)
    assert worker_pid(a.sock) == a.pid
    a.reload()
    assert_ring(a.sock, ks.out, k48, C0 + 1)
    c = Client(tmp_path)
    for tls in TLS:
        c.new_session(a, tls, k48)
