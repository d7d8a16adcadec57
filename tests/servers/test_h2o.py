"""h2o 2.2.5 (Debian `h2o`) with `ssl-session-resumption: {mode: ticket, ticket-store: file}`.

Each instance has its own config, port and log; it runs as Debian's `debian-h2o` user after
dropping privileges. In ticket mode h2o turns its session cache off, so every resumption is by
ticket. h2o re-reads the ticket file by itself (a thread stats it every 10 s and reloads when the
mtime changes) and picks the encrypting entry by its own clock, so the rotation test uses real
time with a 20-second interval and never reloads or restarts h2o.

FILE PRODUCER: `keywheel stek --format h2o` (KEYWHEEL_STEK_WRITER=cli, what run.sh uses) or, with
KEYWHEEL_STEK_WRITER=reference, the independent reference (reference.h2o_render), which proved
the server facts before the format was wired; with the CLI the same tests check keywheel's files.
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import tempfile
import time
from pathlib import Path

import pytest
import yaml

import harness
import reference
import scenarios

FMT = "h2o"
TLS = ["1.2", "1.3"]
SERVER_USER = "debian-h2o"  # Debian's h2o.conf runs h2o as this user


def server_group() -> str:
    return grp.getgrgid(pwd.getpwnam(SERVER_USER).pw_gid).gr_name


def reference_writer(ks: scenarios.KeySet, now: int, interval: int,
                     group: str | None = "server") -> None:
    group = server_group() if group == "server" else group
    gid = grp.getgrnam(group).gr_gid if group else None
    reference.h2o_render(ks.main, ks.label, now, interval, ks.keep, ks.out, gid)


def cli_writer(ks: scenarios.KeySet, now: int, interval: int,
               group: str | None = "server") -> None:
    group = server_group() if group == "server" else group
    extra = ["--group", group] if group else []
    harness.write_keys(FMT, ks.label, ks.main_file, interval, ks.keep, ks.out, now, extra)


PRODUCER = cli_writer if harness.WRITER == "cli" else reference_writer

LOADED = "session ticket secrets have been (re)loaded"
FAILED = "failed to load session ticket secrets from file:"


@pytest.fixture(scope="module", autouse=True)
def installed():
    harness.ensure_packages(["h2o", "openssl"])


class H2oInstance:
    def __init__(self, d: Path, cert, tickets: Path, procs: list, expect_load: bool = True):
        self.dir = d
        self.port = harness.free_port()
        cert_file, key_file = cert
        (d / "www").mkdir()
        (d / "www" / "index.html").write_text("ok\n")
        conf = d / "h2o.conf"
        conf.write_text(f"""\
user: {SERVER_USER}
listen:
  host: 127.0.0.1
  port: {self.port}
  ssl:
    certificate-file: {cert_file}
    key-file: {key_file}
    minimum-version: TLSv1.2
ssl-session-resumption:
  mode: ticket
  ticket-store: file
  ticket-file: {tickets}
hosts:
  default:
    paths:
      /:
        file.dir: {d}/www
""")
        self.log = d / "stderr.log"
        self.proc = harness.start(f"h2o {d.name}", ["h2o", "-c", str(conf)], self.log)
        procs.append(self.proc)
        harness.wait_for_port(self.port, self.proc)
        if expect_load:
            self.wait_loads(1)

    def loads(self) -> int:
        return self.log.read_text(errors="replace").count(LOADED)

    def wait_loads(self, n: int, timeout: float = 25) -> None:
        """Wait until h2o has (re)loaded the ticket file n times (its thread looks every 10 s)."""
        harness.wait_until(lambda: self.loads() >= n, timeout, f"h2o load #{n} of its ticket file")

    def reload(self) -> None:
        raise AssertionError("h2o is never reloaded: it reads its ticket file itself")


class H2oKind:
    name = "h2o"

    def __init__(self, base: Path, cert, procs):
        self.base, self.cert, self.procs = base, cert, procs
        self.n = 0

    def key_out(self, keydir: Path, fmt: str) -> Path:
        return keydir / "tickets.yaml"

    def start(self, name: str, keys: Path, fmt: str = FMT) -> H2oInstance:
        self.n += 1
        d = self.base / f"{name}-{self.n}"
        d.mkdir()
        d.chmod(0o755)
        return H2oInstance(d, self.cert, keys, self.procs)


@pytest.fixture
def base():
    """A directory the server user can reach (pytest's tmp_path sits under a 0700 one)."""
    d = Path(tempfile.mkdtemp(prefix="keywheel-h2o-"))
    d.chmod(0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def cert():
    d = Path(tempfile.mkdtemp(prefix="keywheel-h2o-cert-"))
    d.chmod(0o755)
    yield harness.make_cert(d)
    shutil.rmtree(d, ignore_errors=True)


def keyset(base: Path, kind: H2oKind, now: int, interval: int, main: bytes | None = None,
           label: str = scenarios.LABEL, keep: int = 1,
           group: str | None = "server") -> scenarios.KeySet:
    d = base / f"keys{next(scenarios._seq)}"
    d.mkdir()
    d.chmod(0o755)
    main_file = d / "main.key"
    m = harness.write_main_key(main_file, main)
    ks = scenarios.KeySet(d, main_file, m, label, FMT, kind.key_out(d, FMT), keep, now)
    PRODUCER(ks, now, interval, group)
    return ks


def issuer(ks: scenarios.KeySet, counter: int) -> scenarios.KeySet:
    """ks with the time set so that scenarios.Checker expects key `counter`."""
    return scenarios.KeySet(ks.dir, ks.main_file, ks.main, ks.label, ks.fmt, ks.out, ks.keep,
                            counter * scenarios.INTERVAL)


def check_file(ks: scenarios.KeySet, now: int, interval: int) -> None:
    """The file parsed with a YAML library: entries c+1, c, …, c-keep of the reference, key =
    AES ‖ HMAC ‖ 32 zero bytes (HMAC pads keys to SHA-256's 64-byte block with zeros), times."""
    entries = yaml.safe_load(ks.out.read_text())
    c = now // interval
    want = list(range(c + 1, c - ks.keep - 1, -1))
    assert len(entries) == len(want)
    for e, n in zip(entries, want):
        k = reference.ticket_key(ks.main, ks.label, "aes256", n)
        assert set(e) == {"name", "cipher", "hash", "key", "not_before", "not_after"}
        assert e["name"] == k.name.hex()
        assert (e["cipher"], e["hash"]) == ("aes-256-cbc", "sha256")
        assert e["key"] == (k.aes + k.hmac + bytes(32)).hex()
        assert (e["not_before"], e["not_after"]) == (n * interval,
                                                     (n + ks.keep + 1) * interval - 1)


def wait_for_second(interval: int, lo: int, hi: int) -> int:
    """Wait until lo <= now % interval <= hi; returns now."""
    while True:
        now = int(time.time())
        if lo <= now % interval <= hi:
            return now
        time.sleep(0.1)


STATIC = 3600  # interval of the tests that must not cross a boundary


def static_now() -> int:
    """Now, at least 60 s before the next boundary of STATIC."""
    return wait_for_second(STATIC, 0, STATIC - 60)


def test_shared_keys_resume_across_instances(base, cert, procs):
    kind = H2oKind(base, cert, procs)
    now = static_now()
    c = now // STATIC
    ks = keyset(base, kind, now, STATIC)
    check_file(ks, now, STATIC)
    a, b = kind.start("a", ks.out), kind.start("b", ks.out)
    chk = scenarios.Checker(base)
    for v in TLS:
        sa = chk.new_session(a, v, issuer(ks, c))
        chk.resumes(b, v, sa, issuer(ks, c))
        sb = chk.new_session(b, v, issuer(ks, c))
        chk.resumes(a, v, sb, issuer(ks, c))


def test_other_label_or_main_key_does_not_resume(base, cert, procs):
    kind = H2oKind(base, cert, procs)
    now = static_now()
    c = now // STATIC
    ks = keyset(base, kind, now, STATIC)
    other_label = keyset(base, kind, now, STATIC, main=ks.main, label=scenarios.OTHER_LABEL)
    other_main = keyset(base, kind, now, STATIC)
    a = kind.start("a", ks.out)
    lbl, m = kind.start("other-label", other_label.out), kind.start("other-main", other_main.out)
    chk = scenarios.Checker(base)
    for v in TLS:
        sa = chk.new_session(a, v, issuer(ks, c))
        chk.does_not_resume(lbl, v, sa, issuer(other_label, c))
        chk.does_not_resume(m, v, sa, issuer(other_main, c))
        chk.resumes(a, v, sa, issuer(ks, c))


def test_file_must_be_readable_by_the_server_user(base, cert, procs):
    """h2o reads the file after dropping privileges: a 0600 root file gives no keys (h2o then
    encrypts with throwaway keys), --group <h2o's group> (0640) works."""
    kind = H2oKind(base, cert, procs)
    now = static_now()
    c = now // STATIC
    private = keyset(base, kind, now, STATIC, group=None)
    assert private.out.stat().st_mode & 0o777 == 0o600
    shared = keyset(base, kind, now, STATIC, main=private.main)
    d = base / "private"
    d.mkdir()
    d.chmod(0o755)
    inst = H2oInstance(d, cert, private.out, procs, expect_load=False)
    # (h2o 2.2.5 prints an empty reason: it uses the GNU strerror_r as if it were POSIX's)
    harness.wait_until(lambda: FAILED in inst.log.read_text(errors="replace"), 15,
                       "h2o's message that it cannot read the ticket file")
    assert inst.loads() == 0
    chk = scenarios.Checker(base)
    for v in TLS:
        h = harness.s_client(inst.port, v, sess_out=base / f"private{v}.pem")
        assert h.protocol == f"TLSv{v}", h.output[-2000:]
        if h.session is not None:
            t = harness.session_ticket(h.session)
            assert t[:16] != reference.ticket_key(private.main, private.label, "aes256", c).name
    b = kind.start("shared", shared.out)
    for v in TLS:
        s = chk.new_session(b, v, issuer(shared, c))
        chk.resumes(b, v, s, issuer(shared, c))


def test_rotation_by_clock_and_reload_without_restart(base, cert, procs):
    """Interval 20 s, keep 1, real time. The file for interval c holds c+1, c, c-1; h2o switches
    to c+1 at the boundary by its own clock with no new file; a ticket of c resumes and is
    renewed with c+1. After the rewrite for c+1 (c .. c+2) and h2o's own reload, c still
    resumes; after the next boundary and the rewrite for c+2 (c+1 .. c+3), c no longer resumes
    while c+1 does (renewed with c+2). Never reloaded or restarted."""
    interval = 20
    kind = H2oKind(base, cert, procs)
    now = wait_for_second(interval, 1, 2)
    c = now // interval
    b1 = (c + 1) * interval
    ks = keyset(base, kind, now, interval)
    check_file(ks, now, interval)
    a, b = kind.start("a", ks.out), kind.start("b", ks.out)
    chk = scenarios.Checker(base)

    def at(n):  # expect key n (scenarios.Checker counts in its own interval)
        return issuer(ks, n)

    s0 = {}
    for v in TLS:
        s0[v] = chk.new_session(a, v, at(c))
        h = chk.connect(b, v, at(c), sess_in=s0[v])
        assert h.reused and not h.renewed, f"current-key ticket not resumed or renewed: {h}"
    assert int(time.time()) < b1, "too slow: the boundary passed during the first steps"

    while time.time() < b1 + 1:  # h2o's clock passes the boundary; the file is unchanged
        time.sleep(0.05)
    s1 = {}
    for v in TLS:
        s1[v] = chk.new_session(b, v, at(c + 1))
        chk.resumes(a, v, s0[v], at(c + 1), renewed=True)

    loads = (a.loads(), b.loads())
    PRODUCER(ks, int(time.time()), interval)  # the daemon's rewrite for interval c+1
    check_file(ks, int(time.time()), interval)
    a.wait_loads(loads[0] + 1)
    b.wait_loads(loads[1] + 1)
    for v in TLS:
        chk.resumes(b, v, s0[v], at(c + 1), renewed=True)

    b2 = b1 + interval
    while time.time() < b2 + 1:
        time.sleep(0.05)
    loads = (a.loads(), b.loads())
    PRODUCER(ks, int(time.time()), interval)  # rewrite for interval c+2: c is out
    a.wait_loads(loads[0] + 1)
    b.wait_loads(loads[1] + 1)
    for v in TLS:
        chk.does_not_resume(a, v, s0[v], at(c + 2))
        chk.resumes(a, v, s1[v], at(c + 2), renewed=True)
    for p in (a.proc, b.proc):
        assert p.alive(), p.log_tail()


def test_mtime_must_advance(base, cert, procs):
    """h2o reloads only when the mtime (whole seconds) changes: a rewrite that kept the mtime
    is never seen; keywheel's rewrite (mtime advanced) is."""
    kind = H2oKind(base, cert, procs)
    now = static_now()
    c = now // STATIC
    ks = keyset(base, kind, now, STATIC)
    a = kind.start("a", ks.out)
    mtime = ks.out.stat().st_mtime
    other = keyset(base, kind, now, STATIC, label=scenarios.OTHER_LABEL)
    chk = scenarios.Checker(base)
    # the other label's file put in place with the old mtime: h2o does not notice
    shutil.copy2(other.out, ks.out.with_name("swap.yaml"))
    os.utime(ks.out.with_name("swap.yaml"), (mtime, mtime))
    os.replace(ks.out.with_name("swap.yaml"), ks.out)
    time.sleep(11)
    assert a.loads() == 1
    for v in TLS:
        chk.new_session(a, v, issuer(ks, c))
    # the producer writes the other label's keys at the same second: the mtime advances
    moved = scenarios.KeySet(other.dir, other.main_file, other.main, other.label, FMT, ks.out,
                             other.keep, now)
    PRODUCER(moved, now, STATIC)
    assert int(ks.out.stat().st_mtime) == int(mtime) + 1
    a.wait_loads(2)
    for v in TLS:
        chk.new_session(a, v, issuer(other, c))
