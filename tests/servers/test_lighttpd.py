"""lighttpd 1.4.69 (Debian `lighttpd` + `lighttpd-mod-openssl`) with `ssl.stek-file`.

Each instance has its own config and port, runs as www-data after dropping privileges (so the
key file must be group-readable: `--group www-data`) and has lighttpd's session cache off (its
default), so every resumption is by ticket.

The rotation test moves lighttpd's clock with libfaketime (Debian `faketime`): a timestamp file
holds an offset that lighttpd re-reads at every clock call, so lighttpd's own 64-second check
and its clock-driven switch to the next key happen in seconds of real time. Key files are
written at the same fake times (their mtime is the fake write time, as keywheel sets it from
its `--time`), and the servers are never reloaded or restarted.

FILE PRODUCER: `keywheel stek --format lighttpd` (KEYWHEEL_STEK_WRITER=cli, what run.sh uses) or,
with KEYWHEEL_STEK_WRITER=reference, the independent reference (reference.lighttpd_render), which
proved the server facts before the format was wired; with the CLI the same tests check keywheel's
files.
"""

from __future__ import annotations

import glob
import grp
import os
import shutil
import tempfile
import time
from pathlib import Path

import pytest

import harness
import reference
import scenarios

FMT = "lighttpd"
INTERVAL = 3600
KEEP = 1
TLS = ["1.2", "1.3"]
SERVER_GROUP = "www-data"
# A fake boundary: key 500000 starts encrypting at 1_800_000_000 (2027-01-15T08:00:00Z).
BOUNDARY = 1_800_000_000
C0 = BOUNDARY // INTERVAL - 1


def reference_writer(ks: scenarios.KeySet, now: int, group: str | None = SERVER_GROUP) -> None:
    gid = grp.getgrnam(group).gr_gid if group else None
    reference.lighttpd_render(ks.main, ks.label, now, INTERVAL, ks.keep, ks.out, gid)


def cli_writer(ks: scenarios.KeySet, now: int, group: str | None = SERVER_GROUP) -> None:
    extra = ["--group", group] if group else []
    harness.write_keys(FMT, ks.label, ks.main_file, INTERVAL, ks.keep, ks.out, now, extra)


# The real runs (run.sh: KEYWHEEL_STEK_WRITER=cli) use the CLI; KEYWHEEL_STEK_WRITER=reference
# runs the same tests with the independent reference writing the files.
PRODUCER = cli_writer if harness.WRITER == "cli" else reference_writer


@pytest.fixture(scope="module", autouse=True)
def installed():
    harness.ensure_packages(["lighttpd", "lighttpd-mod-openssl", "faketime", "openssl"])


def libfaketime() -> str:
    found = sorted(glob.glob("/usr/lib/*/faketime/libfaketime.so.1"))
    assert found, "libfaketime.so.1 not found (Debian package libfaketime)"
    return found[0]


class FakeClock:
    """lighttpd's clock: real time + an offset read from a file at every clock call."""

    def __init__(self, d: Path):
        self.file = d / "faketime"
        self.offset = 0
        self._write(0)

    def now(self) -> int:
        return int(time.time()) + self.offset

    def set(self, fake: int) -> None:
        """Jump forward (never back) to fake unix time `fake`, in steps of at most MAX_JUMP
        seconds that lighttpd each sees: it takes a jump of more than 30 minutes for a clock
        step and restarts itself (server.clock-jump-restart), which a real clock never does."""
        while True:
            offset = fake - int(time.time())
            assert offset >= self.offset, "the fake clock only moves forward"
            step = min(offset, self.offset + self.MAX_JUMP) if self.started else offset
            self._write(step)
            if step == offset:
                return
            time.sleep(1.5)

    MAX_JUMP = 240
    started = False

    def _write(self, offset: int) -> None:
        self.offset = offset
        tmp = self.file.with_name(".faketime.tmp")
        tmp.write_text(f"{offset:+d}\n")
        os.replace(tmp, self.file)  # libfaketime never reads a half-written offset

    def wait_until(self, fake: int) -> None:
        while self.now() < fake:
            time.sleep(0.05)

    def env(self) -> dict:
        return dict(os.environ, LD_PRELOAD=libfaketime(), FAKETIME_TIMESTAMP_FILE=str(self.file),
                    FAKETIME_NO_CACHE="1", DONT_FAKE_MONOTONIC="1")


class LighttpdInstance:
    def __init__(self, d: Path, cert, stek: Path, procs: list, clock: FakeClock | None):
        self.dir = d
        self.port = harness.free_port()
        cert_file, key_file = cert
        (d / "index.html").write_text("ok\n")
        conf = d / "lighttpd.conf"
        conf.write_text(f"""\
server.document-root = "{d}"
server.bind = "127.0.0.1"
server.port = {self.port}
server.username = "www-data"
server.groupname = "www-data"
server.modules += ("mod_openssl")
ssl.engine = "enable"
ssl.pemfile = "{cert_file}"
ssl.privkey = "{key_file}"
ssl.stek-file = "{stek}"
ssl.openssl.ssl-conf-cmd = ("MinProtocol" => "TLSv1.2")
""")
        env = clock.env() if clock else None
        if clock:
            clock.started = True
        self.proc = harness.start(f"lighttpd {d.name}", ["lighttpd", "-D", "-f", str(conf)],
                                  d / "stderr.log", env=env)
        procs.append(self.proc)
        harness.wait_for_port(self.port, self.proc)

    def reload(self) -> None:
        raise AssertionError("lighttpd is never reloaded: it reads its key file itself")


class LighttpdKind:
    name = "lighttpd"

    def __init__(self, base: Path, cert, procs, clock: FakeClock | None = None):
        self.base, self.cert, self.procs, self.clock = base, cert, procs, clock
        self.n = 0

    def key_out(self, keydir: Path, fmt: str) -> Path:
        return keydir / "stek"

    def start(self, name: str, keys: Path, fmt: str) -> LighttpdInstance:
        self.n += 1
        d = self.base / f"{name}-{self.n}"
        d.mkdir()
        d.chmod(0o755)
        return LighttpdInstance(d, self.cert, keys, self.procs, self.clock)


@pytest.fixture(scope="module")
def cert():
    d = Path(tempfile.mkdtemp(prefix="keywheel-lighttpd-cert-"))
    d.chmod(0o755)
    yield harness.make_cert(d)
    shutil.rmtree(d, ignore_errors=True)


def keyset(base: Path, kind: LighttpdKind, now: int, main: bytes | None = None,
           label: str = scenarios.LABEL, group: str | None = SERVER_GROUP) -> scenarios.KeySet:
    d = base / f"keys{next(scenarios._seq)}"
    d.mkdir()
    d.chmod(0o755)
    main_file = d / "main.key"
    m = harness.write_main_key(main_file, main)
    ks = scenarios.KeySet(d, main_file, m, label, FMT, kind.key_out(d, FMT), KEEP, now)
    PRODUCER(ks, now, group)
    return ks


def issuer(ks: scenarios.KeySet, counter: int) -> scenarios.KeySet:
    """ks with the fake time set so that scenarios.Checker expects key `counter`."""
    return scenarios.KeySet(ks.dir, ks.main_file, ks.main, ks.label, ks.fmt, ks.out, ks.keep,
                            counter * scenarios.INTERVAL)


def file_counter(ks: scenarios.KeySet) -> int:
    data = ks.out.read_bytes()
    assert len(data) == 92, f"{ks.out} is {len(data)} bytes, not 92"
    names = {reference.ticket_key(ks.main, ks.label, "aes256", n).name: n
             for n in range(C0 - 5, C0 + 10)}
    return names[data[12:28]]


@pytest.fixture
def base():
    """A directory www-data can reach (pytest's tmp_path sits under a 0700 directory): after
    dropping privileges lighttpd re-reads its key file, and libfaketime its offset, from here."""
    d = Path(tempfile.mkdtemp(prefix="keywheel-lighttpd-"))
    d.chmod(0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def test_shared_keys_resume_across_instances(base, cert, procs):
    """Two instances reading one file resume each other's tickets (TLS 1.2 and 1.3); the
    tickets are the reference key of the current interval (name, AES-CBC, HMAC)."""
    kind = LighttpdKind(base, cert, procs)
    now = int(time.time())
    ks = keyset(base, kind, now)
    c = now // INTERVAL
    assert file_counter_any(ks) == c
    a, b = kind.start("a", ks.out, FMT), kind.start("b", ks.out, FMT)
    chk = scenarios.Checker(base)
    want = issuer(ks, c)
    for v in TLS:
        sa = chk.new_session(a, v, want)
        chk.resumes(b, v, sa, want)
        sb = chk.new_session(b, v, want)
        chk.resumes(a, v, sb, want)


def file_counter_any(ks: scenarios.KeySet) -> int:
    data = ks.out.read_bytes()
    c = int(time.time()) // INTERVAL
    for n in range(c - 2, c + 3):
        if data[12:28] == reference.ticket_key(ks.main, ks.label, "aes256", n).name:
            return n
    raise AssertionError("the file holds no key of this main key and label")


def test_other_label_or_main_key_does_not_resume(base, cert, procs):
    kind = LighttpdKind(base, cert, procs)
    now = int(time.time())
    c = now // INTERVAL
    ks = keyset(base, kind, now)
    other_label = keyset(base, kind, now, main=ks.main, label=scenarios.OTHER_LABEL)
    other_main = keyset(base, kind, now)
    a = kind.start("a", ks.out, FMT)
    lbl = kind.start("other-label", other_label.out, FMT)
    m = kind.start("other-main", other_main.out, FMT)
    chk = scenarios.Checker(base)
    for v in TLS:
        sa = chk.new_session(a, v, issuer(ks, c))
        chk.does_not_resume(lbl, v, sa, issuer(other_label, c))
        chk.does_not_resume(m, v, sa, issuer(other_main, c))
        chk.resumes(a, v, sa, issuer(ks, c))


def test_file_must_be_readable_after_privilege_drop(base, cert, procs):
    """lighttpd reads the file at start as root, but re-reads it as www-data after dropping
    privileges: a 0600 root file works at start and then silently stops rotating (lighttpd
    keeps its old key); with --group www-data (0640) the next key is loaded and used."""
    clock = FakeClock(base)
    kind = LighttpdKind(base, cert, procs, clock)
    w1 = reference.lighttpd_publish_time(C0 + 1, INTERVAL)
    chk1 = reference.lighttpd_load_check(C0 + 1, INTERVAL)
    clock.set(w1 - 20)
    private = keyset(base, kind, clock.now(), group=None)
    assert private.out.stat().st_mode & 0o777 == 0o600
    shared = keyset(base, kind, clock.now(), main=private.main)
    assert shared.out.stat().st_mode & 0o777 == 0o640
    a, b = kind.start("private", private.out, FMT), kind.start("shared", shared.out, FMT)
    chk = scenarios.Checker(base)
    for v in TLS:  # both loaded key C0 at start
        chk.new_session(a, v, issuer(private, C0))
        chk.new_session(b, v, issuer(shared, C0))
    clock.set(w1)
    PRODUCER(private, w1, None)
    PRODUCER(shared, w1)
    assert file_counter(private) == file_counter(shared) == C0 + 1
    clock.set(chk1 - 2)
    clock.wait_until(chk1 + 2)
    clock.set(BOUNDARY - 2)
    clock.wait_until(BOUNDARY + 1)
    for v in TLS:
        chk.new_session(b, v, issuer(shared, C0 + 1))  # rotated
        chk.new_session(a, v, issuer(private, C0))  # stuck on the old key


def has_ticket(session: Path | None) -> bool:
    if session is None:
        return False
    try:
        return bool(harness.session_ticket(session))
    except AssertionError:  # a session without the ticket field
        return False


def test_rotation_without_reload(base, cert, procs):
    """keep 1, interval 3600, lighttpd's clock faked around the boundary B = start(C0 + 1):
    - before W(C0+1): the file holds key C0; instances a and b load it at start.
    - at W(C0+1) keywheel writes key C0+1; lighttpd's check at C(C0+1) loads it; until B new
      tickets still use C0 (activation not reached) and C0 tickets resume without renewal.
    - after B (lighttpd's own clock): new tickets use C0+1, C0 tickets resume and are renewed.
    - a full interval later (key C0+2 loaded the same way), C0's key has expired: its tickets
      no longer resume, while C0+1's still do (renewed with C0+2).
    No reload, no restart."""
    clock = FakeClock(base)
    kind = LighttpdKind(base, cert, procs, clock)
    w1 = reference.lighttpd_publish_time(C0 + 1, INTERVAL)
    chk1 = reference.lighttpd_load_check(C0 + 1, INTERVAL)
    assert (w1, chk1) == (1_799_999_904, 1_799_999_936)  # 96 and 64 s before B

    clock.set(w1 - 20)
    ks = keyset(base, kind, clock.now())
    assert file_counter(ks) == C0
    a, b = kind.start("a", ks.out, FMT), kind.start("b", ks.out, FMT)
    chk = scenarios.Checker(base)
    s0 = {}
    for v in TLS:
        s0[v] = chk.new_session(a, v, issuer(ks, C0))
        chk.resumes(b, v, s0[v], issuer(ks, C0))

    clock.set(w1)
    PRODUCER(ks, w1)
    assert file_counter(ks) == C0 + 1
    clock.set(chk1 - 2)
    clock.wait_until(chk1 + 2)  # lighttpd's check at chk1 has loaded key C0+1 (not active)
    for v in TLS:
        for inst in (a, b):
            chk.new_session(inst, v, issuer(ks, C0))
            h = chk.connect(inst, v, issuer(ks, C0), sess_in=s0[v])
            assert h.reused and not h.renewed, f"current-key ticket renewed or not resumed: {h}"

    clock.set(BOUNDARY - 2)
    clock.wait_until(BOUNDARY + 1)  # lighttpd's own clock passes B: key C0+1 encrypts
    s1 = {}
    for v in TLS:
        s1[v] = chk.new_session(a, v, issuer(ks, C0 + 1))
        chk.new_session(b, v, issuer(ks, C0 + 1))
        chk.resumes(b, v, s0[v], issuer(ks, C0 + 1), renewed=True)
        chk.resumes(a, v, s1[v], issuer(ks, C0 + 1))

    # One interval later: key C0+2 published and loaded the same way, C0 expires at B + I.
    w2 = reference.lighttpd_publish_time(C0 + 2, INTERVAL)
    chk2 = reference.lighttpd_load_check(C0 + 2, INTERVAL)
    clock.set(w2)
    PRODUCER(ks, w2)
    assert file_counter(ks) == C0 + 2
    clock.set(chk2 - 2)
    clock.wait_until(chk2 + 2)
    clock.set(BOUNDARY + INTERVAL - 2)
    clock.wait_until(BOUNDARY + INTERVAL + 1)
    for v in TLS:
        chk.does_not_resume(a, v, s0[v], issuer(ks, C0 + 2))
        chk.resumes(b, v, s1[v], issuer(ks, C0 + 2), renewed=True)
    for p in (a.proc, b.proc):
        assert p.alive(), p.log_tail()
