"""Apache httpd (Debian 12: 2.4) with mod_keywheel (apache/mod_keywheel): keywheel's OpenSSL
ticket-key callback in every SSL virtual host, rotating by the clock with no restart.

The module is built here with apache/mod_keywheel/build.sh (apxs, -Wall -Wextra -Werror) against
libkeywheel of this checkout (KEYWHEEL_FROM_SOURCE=1: never a libkeywheel installed elsewhere).
Each instance has its own ServerRoot, config, port, pid file and logs in a temp dir,
`SSLSessionCache none` (every resumption is by ticket), the same `ServerName localhost:443` as
test_apache.py (mod_ssl binds sessions to the server name and port), and
`SSLSessionCacheTimeout 86400` (OpenSSL refuses sessions older than the SSL_CTX timeout, 300 s by
default, whatever the ticket key: a long timeout makes keywheel's window the only limit tested).

Moving time without a restart: every instance runs under libfaketime (Debian `faketime`,
libfaketimeMT.so.1 for the threaded event MPM) with FAKETIME_TIMESTAMP_FILE pointing to a file
of its own that holds an offset ("+N" seconds) and FAKETIME_NO_CACHE=1, so every clock read of
the running server (including the callback's clock_gettime) sees the offset written last. The
fake times are chosen mid-interval, far from any boundary, so the expected key counters are
exact. `openssl s_client` runs on the real clock (its session ages stay small).

Expected key names, AES and HMAC keys come from reference.py (SPEC section 4 with hashlib),
never from keywheel; in forward-secure mode (KeywheelState) from the independent reference of
SPEC section 6, tests/cross/forward_independent.py (the seed comes from `keywheel state new
--write-seed`, only for that reference). The module makes AES-256 keys (reference strength
"aes256").
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

import harness
import reference

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "cross"))
import forward_independent as fi  # noqa: E402

TLS = ["1.2", "1.3"]
MODULES = "/usr/lib/apache2/modules"
LABEL = "shop.example"
INTERVAL = 3600
STRENGTH = "aes256"
BUILD_FLAGS = ("-Wall", "-Wextra", "-Werror")


@pytest.fixture(scope="module", autouse=True)
def installed():
    harness.ensure_packages(["apache2", "apache2-dev", "faketime", "openssl", "valgrind",
                             "strace"])


@pytest.fixture(scope="module")
def module_so(workdir) -> Path:
    """mod_keywheel.so built by the project's build script, with its build log checked for
    the warning flags."""
    out = workdir / "mod_keywheel"
    env = dict(os.environ, KEYWHEEL_FROM_SOURCE="1")
    r = subprocess.run([str(harness.REPO_ROOT / "apache/mod_keywheel/build.sh"), str(out)],
                       env=env, capture_output=True, text=True, timeout=1800)
    log = r.stdout + r.stderr
    assert r.returncode == 0, f"build failed:\n{log}"
    so = out / "mod_keywheel.so"
    assert so.is_file(), log
    compiles = [line for line in log.splitlines() if "-c" in line.split() and
                "mod_keywheel.c" in line and "libtool" in line]
    assert compiles, f"no compile line of mod_keywheel.c in the build log:\n{log}"
    for flag in BUILD_FLAGS:
        assert all(flag in c.split() for c in compiles), f"{flag} missing: {compiles}"
    so.chmod(0o755)
    return so


@pytest.fixture(scope="module")
def cert(workdir):
    return harness.make_cert(workdir / "mod-keywheel-cert")


@pytest.fixture
def base(tmp_path) -> Path:
    tmp_path.chmod(0o755)
    return tmp_path


@pytest.fixture
def clocks():
    """A directory for libfaketime timestamp files that Apache's children can read after they
    drop privileges to www-data (pytest's own temp tree is 0700 above tmp_path); removed after
    the test."""
    d = Path(tempfile.mkdtemp(prefix="keywheel-clock-"))
    d.chmod(0o755)
    yield d
    shutil.rmtree(d)


def main_key(base: Path, name: str = "main.key") -> tuple[Path, bytes]:
    path = base / name
    return path, harness.write_main_key(path)


def faketime_lib() -> str:
    """libfaketimeMT.so.1 of Debian's faketime package (multiarch directory)."""
    found = sorted(Path("/usr/lib").glob("*/faketime/libfaketimeMT.so.1"))
    if not found:
        pytest.fail("libfaketimeMT.so.1 not found (apt-get install faketime)")
    return str(found[0])


class FakeClock:
    """A libfaketime timestamp file: set(t) makes the servers that read it see unix time t
    (an offset to the real clock, re-read by libfaketime on every clock call)."""

    def __init__(self, path: Path):
        self.path = path

    def set(self, t: int) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(f"{t - int(time.time()):+d}\n")
        tmp.chmod(0o644)
        os.replace(tmp, self.path)

    def env(self) -> dict:
        return {"LD_PRELOAD": faketime_lib(), "FAKETIME_TIMESTAMP_FILE": str(self.path),
                "FAKETIME_NO_CACHE": "1", "FAKETIME_DONT_FAKE_MONOTONIC": "1"}


def fake_time(counter: int) -> int:
    """The middle of interval `counter`."""
    return counter * INTERVAL + INTERVAL // 2


def start_counter() -> int:
    """An interval well ahead of the real clock (all fake times are in the future)."""
    return int(time.time()) // INTERVAL + 1000


def config(d: Path, so: Path, cert, port: int, keywheel: str, extra: str = "",
           mpm: str = "event") -> Path:
    cert_file, key_file = cert
    (d / "www").mkdir(exist_ok=True)
    (d / "www" / "index.html").write_text("ok\n")
    conf = d / "httpd.conf"
    conf.write_text(f"""\
ServerRoot {d}
LoadModule mpm_{mpm}_module {MODULES}/mod_mpm_{mpm}.so
LoadModule authz_core_module {MODULES}/mod_authz_core.so
LoadModule ssl_module {MODULES}/mod_ssl.so
LoadModule keywheel_module {so}
User www-data
Group www-data
DefaultRuntimeDir {d}
PidFile {d}/httpd.pid
ErrorLog {d}/error.log
LogLevel info
Mutex file:{d}
StartServers 1
ServerName localhost:443
Listen 127.0.0.1:{port}
DocumentRoot {d}/www
<Directory {d}/www>
    AllowOverride None
    Require all granted
</Directory>
SSLSessionCache none
SSLSessionTickets on
SSLSessionCacheTimeout 86400
{keywheel}
<VirtualHost 127.0.0.1:{port}>
    ServerName localhost:443
    SSLEngine on
    SSLCertificateFile {cert_file}
    SSLCertificateKeyFile {key_file}
</VirtualHost>
{extra}""")
    return conf


def directives(key_file: Path, label: str = LABEL, interval: int | None = None,
               keep: int | None = None) -> str:
    lines = [f"KeywheelMainKey {key_file}", f'KeywheelLabel "{label}"']
    if interval is not None:
        lines.append(f"KeywheelInterval {interval}")
    if keep is not None:
        lines.append(f"KeywheelKeep {keep}")
    return "\n".join(lines)


class Apache:
    def __init__(self, base: Path, name: str, so: Path, cert, keywheel: str, procs: list,
                 clock: FakeClock | None = None, wrapper: list[str] | None = None,
                 single: bool = False, extra: str = "", env: dict | None = None,
                 mpm: str = "event"):
        self.dir = base / name
        self.dir.mkdir()
        self.dir.chmod(0o755)
        self.port = harness.free_port()
        self.conf = config(self.dir, so, cert, self.port, keywheel, extra, mpm)
        env = dict(os.environ, **(clock.env() if clock else {}), **(env or {}))
        cmd = [*(wrapper or []), "apache2", "-f", str(self.conf), "-DFOREGROUND"]
        if single:
            cmd.append("-X")
        self.proc = harness.start(f"apache2 {name}", cmd, self.dir / "stderr.log", env=env)
        procs.append(self.proc)
        harness.wait_for_port(self.port, self.proc, timeout=120 if wrapper else 30)
        if not single:
            harness.wait_until(lambda: harness.children(self.proc.pid), 30, "apache children")

    def error_log(self) -> str:
        return (self.dir / "error.log").read_text(errors="replace")


def key(main: bytes, counter: int) -> reference.TicketKey:
    return reference.ticket_key(main, LABEL, STRENGTH, counter)


def assert_counter(ticket: bytes | None, main: bytes, counter: int) -> None:
    """The ticket's name, AES-CBC and HMAC-SHA256 all verify with reference key `counter`."""
    assert ticket is not None, "no ticket"
    harness.assert_ticket_bytes(ticket, main, LABEL, STRENGTH, counter, "reference")


def ticket(h: harness.Handshake) -> bytes:
    assert h.session is not None, f"no session saved ({h}):\n{h.output[-2000:]}"
    return harness.session_ticket(h.session)


def new_ticket_after_resumption(h: harness.Handshake, tls: str) -> bytes | None:
    """The ticket the server issued on a resumption: TLS 1.2 shows it in the handshake
    printout (NewSessionTicket of the abbreviated handshake), TLS 1.3 saves it with -sess_out."""
    if tls == "1.2":
        return h.printed_ticket
    return harness.session_ticket(h.session) if h.session is not None else None


# --- forward-secure mode: helpers ---------------------------------------------------------


def kw(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(harness.keywheel_bin()), *args], capture_output=True, text=True,
                          timeout=60)


def new_state(base: Path, start: int, name: str = "fs.state") -> tuple[Path, bytes]:
    """A forward-secure state starting at `start`, made by `keywheel state new`; returns its
    file and its seed (written with --write-seed for the independent reference only). The file
    is checked byte for byte against the reference."""
    path, seed_file = base / name, base / f"{name}.seed"
    r = kw("state", "new", str(path), "--start", str(start), "--write-seed", str(seed_file),
           "--allow-persistent")
    assert r.returncode == 0, r.stderr
    seed = seed_file.read_bytes()
    seed_file.unlink()
    assert r.stdout.strip() == fi.root_id(seed).hex()
    assert path.read_bytes() == fi.state_file(seed, start)
    return path, seed


def state_directives(state: Path | None = None, label: str = LABEL, keep: int | None = None,
                     credential: str | None = None) -> str:
    source = f"KeywheelStateCredential {credential}" if credential else f"KeywheelState {state}"
    return "\n".join([source, f'KeywheelLabel "{label}"'] +
                     ([f"KeywheelKeep {keep}"] if keep is not None else []))


def fs_key(seed: bytes, counter: int, label: str = LABEL):
    """The reference key (name, aes, hmac) of `counter` in forward-secure mode."""
    return fi.fs_ticket_key(seed, label.encode(), INTERVAL, STRENGTH, counter)


def assert_fs_counter(t: bytes | None, seed: bytes, counter: int) -> None:
    """The ticket's name, AES-CBC and HMAC-SHA256 all verify with the forward-secure reference
    key `counter` (SPEC section 6, forward_independent.py)."""
    assert t is not None, "no ticket"
    c = harness.check_ticket(t, fs_key(seed, counter))
    if not c.ok("reference"):
        found = [n for n in range(counter - 8, counter + 9) if t[:16] == fs_key(seed, n).name]
        raise AssertionError(f"ticket does not match forward-secure key {counter}: name "
                             f"{c.name_ok} (matches counters {found}), hmac {c.hmac_ok}, "
                             f"aes {c.aes_ok}")


# --- resumption across instances ----------------------------------------------------------


@pytest.mark.parametrize("tls", TLS, ids=["1.2", "1.3"])
def test_two_instances_resume_each_other(module_so, cert, base, procs, clocks, tls):
    key_file, main = main_key(base)
    c0 = start_counter()
    clock = FakeClock(clocks / "clock")
    clock.set(fake_time(c0))
    a = Apache(base, "a", module_so, cert, directives(key_file), procs, clock)
    b = Apache(base, "b", module_so, cert, directives(key_file), procs, clock)
    for x in (a, b):
        log = x.error_log()
        assert f'mod_keywheel: server localhost:443: session tickets with keywheel keys of label ' \
               f'"{LABEL}", interval {INTERVAL} s, keep 1' in log, log
    for src, dst in ((a, b), (b, a)):
        s = base / f"{src.dir.name}-{tls}.pem"
        h = harness.s_client(src.port, tls, sess_out=s)
        assert not h.reused and h.protocol == f"TLSv{tls}", h.output[-2000:]
        assert_counter(ticket(h), main, c0)
        r = harness.s_client(dst.port, tls, sess_in=s)
        assert r.reused, f"{src.dir.name}'s ticket not resumed by {dst.dir.name} ({r})"


@pytest.mark.parametrize("tls", TLS, ids=["1.2", "1.3"])
def test_strength_aes128(module_so, cert, base, procs, clocks, tls):
    """KeywheelStrength aes128: tickets under keywheel's AES-128 key of the label (name, AES-128
    and the 16-byte HMAC key checked against the reference), resumed by another aes128 node, not
    by a node of the default strength (aes256), whose keys are others."""
    key_file, main = main_key(base)
    c0 = start_counter()
    clock = FakeClock(clocks / "clock")
    clock.set(fake_time(c0))
    a = Apache(base, "a", module_so, cert, directives(key_file) + "\nKeywheelStrength aes128",
               procs, clock)
    b = Apache(base, "b", module_so, cert, directives(key_file) + "\nKeywheelStrength aes128",
               procs, clock)
    d = Apache(base, "d", module_so, cert, directives(key_file), procs, clock)
    assert f'"{LABEL}", interval {INTERVAL} s, keep 1, AES-128' in a.error_log(), a.error_log()
    assert f'"{LABEL}", interval {INTERVAL} s, keep 1, AES-256' in d.error_log(), d.error_log()
    s = base / f"a-{tls}.pem"
    h = harness.s_client(a.port, tls, sess_out=s)
    assert not h.reused and h.protocol == f"TLSv{tls}", h.output[-2000:]
    harness.assert_ticket_bytes(ticket(h), main, LABEL, "aes128", c0)
    assert harness.s_client(b.port, tls, sess_in=s).reused, "aes128 node did not resume"
    assert not harness.s_client(d.port, tls, sess_in=s).reused, "aes256 node resumed"


@pytest.mark.parametrize("tls", TLS, ids=["1.2", "1.3"])
def test_other_main_key_or_label_does_not_resume(module_so, cert, base, procs, clocks, tls):
    key_file, _ = main_key(base)
    other_file, _ = main_key(base, "other.key")
    clock = FakeClock(clocks / "clock")
    clock.set(fake_time(start_counter()))
    a = Apache(base, "a", module_so, cert, directives(key_file), procs, clock)
    b = Apache(base, "b", module_so, cert, directives(other_file), procs, clock)
    c = Apache(base, "c", module_so, cert, directives(key_file, label="blog.example"), procs,
               clock)
    s = base / "a.pem"
    assert not harness.s_client(a.port, tls, sess_out=s).reused
    assert harness.s_client(a.port, tls, sess_in=s).reused  # control: the session is good
    assert not harness.s_client(b.port, tls, sess_in=s).reused, "other main key resumed"
    assert not harness.s_client(c.port, tls, sess_in=s).reused, "other label resumed"


def test_every_ssl_vhost_with_inheritance(module_so, cert, base, procs, clocks):
    """Server-level directives reach every SSL virtual host; a virtual host overrides what it
    sets and inherits the rest: vhost 1 sets nothing (label, interval 7200 and keep of the
    server), vhost 2 sets its own label and keep (interval inherited) and has a mod_ssl
    SSLSessionTicketKeyFile, which keywheel's callback overrides."""
    key_file, main = main_key(base)
    clock = FakeClock(clocks / "clock")
    t = fake_time(start_counter())
    clock.set(t)
    d = base / "v"
    d.mkdir()
    d.chmod(0o755)
    p1, p2 = harness.free_port(), harness.free_port()
    cert_file, key_file_pem = cert
    vhost2 = f"""Listen 127.0.0.1:{p2}
<VirtualHost 127.0.0.1:{p2}>
    ServerName localhost:443
    SSLEngine on
    SSLCertificateFile {cert_file}
    SSLCertificateKeyFile {key_file_pem}
    SSLSessionTicketKeyFile {base / "mod_ssl.key"}
    KeywheelLabel "blog.example"
    KeywheelKeep 3
</VirtualHost>
"""
    # mod_ssl's own key for vhost 2: mod_keywheel must override it
    (base / "mod_ssl.key").write_bytes(os.urandom(48))
    (base / "mod_ssl.key").chmod(0o600)
    conf = config(d, module_so, cert, p1, directives(key_file, interval=7200), vhost2)
    proc = harness.start("apache2 vhosts", ["apache2", "-f", str(conf), "-DFOREGROUND"],
                         d / "stderr.log", env=dict(os.environ, **clock.env()))
    procs.append(proc)
    harness.wait_for_port(p1, proc)
    harness.wait_for_port(p2, proc)
    # the ports open before mod_ssl's post_config logs: wait for the end of the start
    harness.wait_until(lambda: "AH00489" in (d / "error.log").read_text(), 30, "Apache started")
    log = (d / "error.log").read_text()
    assert f'label "{LABEL}", interval 7200 s, keep 1' in log, log
    assert 'label "blog.example", interval 7200 s, keep 3' in log, log
    for port, label in ((p1, LABEL), (p2, "blog.example")):
        h = harness.s_client(port, "1.2", sess_out=base / f"{port}.pem")
        harness.assert_ticket_bytes(ticket(h), main, label, STRENGTH, t // 7200, "reference")


@pytest.mark.parametrize("source", ["main-key", "state"])
def test_packaged_load_and_conf(module_so, cert, base, procs, clocks, source):
    """keywheel.load (its LoadModule line, path rewritten to the built module) and
    keywheel.conf with its example directives uncommented give a working Apache: the main-key
    example, or the forward-secure one (KeywheelState in place of KeywheelMainKey)."""
    src = harness.REPO_ROOT / "apache/mod_keywheel"
    load = (src / "keywheel.load").read_text()
    assert "# Depends: ssl" in load
    m = re.search(r"^LoadModule keywheel_module (\S+)$", load, re.M)
    assert m and m.group(1) == "/usr/lib/apache2/modules/mod_keywheel.so", load
    t = fake_time(start_counter())
    conf_text = re.sub(r"^(\s*)# (Keywheel\w+|SSLSessionCacheTimeout) ", r"\1\2 ",
                       (src / "keywheel.conf").read_text(), flags=re.M)
    assert conf_text.count("\n    Keywheel") == 5, conf_text  # main key, label, interval, keep, strength
    if source == "main-key":
        key_file, main = main_key(base)
        conf_text = conf_text.replace("/etc/keywheel/main.key", str(key_file))
        check = (lambda tk: harness.assert_ticket_bytes(tk, main, "www.example.com", STRENGTH,
                                                        t // 3600, "reference"))
    else:
        state, seed = new_state(base, (t // 3600 - 2) * 3600)
        line = "    #   KeywheelState /run/keywheel/apache-fs.state\n"
        assert line in conf_text, conf_text
        conf_text = re.sub(r"^    KeywheelMainKey .*\n", "", conf_text, flags=re.M)
        conf_text = conf_text.replace(line, f"    KeywheelState {state}\n")
        check = (lambda tk: harness.check_ticket(tk, fi.fs_ticket_key(
            seed, b"www.example.com", 3600, STRENGTH, t // 3600)).ok("reference") or
            pytest.fail("ticket does not match the forward-secure reference key"))
    (base / "keywheel.conf").write_text(conf_text)
    clock = FakeClock(clocks / "clock")
    clock.set(t)
    d = base / "pkg"
    d.mkdir()
    d.chmod(0o755)
    port = harness.free_port()
    conf = config(d, module_so, cert, port, f"Include {base / 'keywheel.conf'}")
    proc = harness.start("apache2 pkg", ["apache2", "-f", str(conf), "-DFOREGROUND"],
                         d / "stderr.log", env=dict(os.environ, **clock.env()))
    procs.append(proc)
    harness.wait_for_port(port, proc)
    h = harness.s_client(port, "1.3", sess_out=base / "pkg.pem")
    check(ticket(h))


# --- rotation without restart -------------------------------------------------------------


@pytest.mark.parametrize("tls", TLS, ids=["1.2", "1.3"])
def test_rotation_without_restart(module_so, cert, base, procs, clocks, tls):
    """Keep 1: at interval c+1, a ticket of c (previous) resumes and is renewed with c+1; at
    c+2 it no longer resumes (while an instance with keep 2 still takes it); a ticket of c+1
    made by a node already at c+1 resumes on a node still at c (next key) and is renewed there
    with c. No signal is sent to Apache: the parent
    and its children are the same processes before and after."""
    key_file, main = main_key(base)
    c0 = start_counter()
    clock_a, clock_b = FakeClock(clocks / "a"), FakeClock(clocks / "b")
    clock_a.set(fake_time(c0))
    clock_b.set(fake_time(c0))
    a = Apache(base, "a", module_so, cert, directives(key_file), procs, clock_a)
    b = Apache(base, "b", module_so, cert, directives(key_file), procs, clock_b)
    # control: keep 2 (same keys, on a's clock) still accepts the ticket two intervals old, so
    # a and b refuse it because of keywheel's window, not OpenSSL's session timeout
    k2 = Apache(base, "keep2", module_so, cert, directives(key_file, keep=2), procs, clock_a)
    pids = {x: (x.proc.pid, harness.children(x.proc.pid)) for x in (a, b)}

    s0 = base / "s0.pem"
    h = harness.s_client(a.port, tls, sess_out=s0)
    assert not h.reused
    t0 = ticket(h)
    assert_counter(t0, main, c0)

    # Interval c0 + 1 on both: the c0 ticket is the previous key's; accepted and renewed.
    clock_a.set(fake_time(c0 + 1))
    clock_b.set(fake_time(c0 + 1))
    fresh = harness.s_client(b.port, tls, sess_out=base / "fresh.pem")
    assert not fresh.reused
    assert_counter(ticket(fresh), main, c0 + 1)  # new tickets: the new current key
    r = harness.s_client(b.port, tls, sess_in=s0, sess_out=base / "s0-renewed.pem")
    assert r.reused, f"previous-interval ticket not resumed after the rotation ({r})"
    renewed = new_ticket_after_resumption(r, tls)
    assert renewed is not None and renewed != t0, "previous-interval ticket was not renewed"
    assert_counter(renewed, main, c0 + 1)

    # A ticket of the current key is resumed and (TLS 1.2) not renewed.
    if tls == "1.2":
        s1 = base / "s1.pem"
        harness.s_client(a.port, tls, sess_out=s1)
        t1 = harness.session_ticket(s1)
        r1 = harness.s_client(a.port, tls, sess_in=s1)
        assert r1.reused
        assert r1.printed_ticket == t1, "a current-key ticket was renewed"

    # Interval c0 + 2: the c0 ticket is older than keep allows: full handshake.
    clock_a.set(fake_time(c0 + 2))
    clock_b.set(fake_time(c0 + 2))
    for x in (a, b):
        old = harness.s_client(x.port, tls, sess_in=s0, sess_out=base / "old.pem")
        assert not old.reused, f"a ticket two intervals old was resumed by {x.dir.name}"
        assert_counter(ticket(old), main, c0 + 2)
    assert harness.s_client(k2.port, tls, sess_in=s0).reused, "keep 2 refused it too"
    if tls == "1.2":
        # the renewed ticket (c0 + 1) is now the previous key's and still resumes
        assert harness.s_client(a.port, tls, sess_in=base / "fresh.pem").reused

    # Clock skew: a at c0 + 3 issues with the next key of b (still at c0 + 2).
    clock_a.set(fake_time(c0 + 3))
    sn = base / "next.pem"
    assert_counter(ticket(harness.s_client(a.port, tls, sess_out=sn)), main, c0 + 3)
    r = harness.s_client(b.port, tls, sess_in=sn, sess_out=base / "next-renewed.pem")
    assert r.reused, "next-interval ticket not resumed by a node one interval behind"
    assert_counter(new_ticket_after_resumption(r, tls), main, c0 + 2)

    for x in (a, b):
        # No restart: the same parent, its first children still running (the MPM may have
        # added some), one configuration load ("resuming normal operations" once), no restart
        # signal logged (AH00493 graceful, AH00494 restart).
        assert x.proc.alive()
        pid, kids = pids[x]
        assert x.proc.pid == pid and kids <= harness.children(pid), "Apache was restarted"
        log = x.error_log()
        assert log.count("AH00489") == 1 and "AH00493" not in log and "AH00494" not in log, log


def test_graceful_restarts(module_so, cert, base, procs, clocks):
    """Graceful restarts (SIGUSR1, = apachectl graceful) reload the configuration: the keys are
    made again from the main key and tickets issued before still resume; one restart loads more
    modules before mod_keywheel (its code would move if Apache unloaded it: the module pins
    itself so that the callback OpenSSL keeps for its SSL_CTX slot stays valid)."""
    key_file, main = main_key(base)
    clock = FakeClock(clocks / "clock")
    c0 = start_counter()
    clock.set(fake_time(c0))
    a = Apache(base, "a", module_so, cert, directives(key_file), procs, clock)
    s = base / "before.pem"
    assert_counter(ticket(harness.s_client(a.port, "1.2", sess_out=s)), main, c0)
    extra = "".join(f"LoadModule {m}_module {MODULES}/mod_{m}.so\n"
                    for m in ("cache", "dav", "proxy"))
    for i in range(3):
        if i == 1:
            text = a.conf.read_text()
            a.conf.write_text(text.replace("LoadModule keywheel_module", extra +
                                           "LoadModule keywheel_module"))
        old = harness.children(a.proc.pid)
        a.proc.signal(signal.SIGUSR1)
        harness.wait_new_generation(a.proc.pid, old)
        assert a.proc.alive(), a.proc.log_tail()
        assert harness.s_client(a.port, "1.2", sess_in=s).reused, f"after restart {i + 1}"
    log = a.error_log()
    assert log.count("AH00493") == 3, log  # three graceful restarts
    # one install per configuration load: 2 at start, 1 per restart
    assert log.count("mod_keywheel: server localhost:443: session tickets") == 5, log
    assert "Segmentation fault" not in log and "exit signal" not in log, log
    h = harness.s_client(a.port, "1.3", sess_out=base / "after.pem")
    assert_counter(ticket(h), main, c0)


def strace_opens(log: Path, path: Path) -> list[int]:
    """The pids of every open/openat of `path` in an `strace -f` log (one entry per call)."""
    pids = []
    pattern = re.compile(r'^(\d+) +open(?:at2?)?\((?:AT_FDCWD, )?"' + re.escape(str(path)) + '"')
    for line in log.read_text(errors="replace").splitlines():
        m = pattern.match(line)
        if m:
            pids.append(int(m.group(1)))
    return pids


@pytest.mark.parametrize("source", ["main-key", "state"])
def test_source_read_once_by_the_parent_at_start_and_at_each_graceful_restart(
        module_so, cert, base, procs, clocks, source):
    """Apache loads its configuration twice at start; the module opens its key source (main
    key or forward-secure state file) once, in the parent (the keys of the first pass go to the
    second), and never in a child (three children here). A graceful restart opens it once more,
    again in the parent: a new main key / a new state is picked up with no full restart.
    Every open of the file by Apache and its children is counted with `strace -f`."""
    if shutil.which("strace") is None:
        pytest.fail("strace is not installed")
    clock = FakeClock(clocks / "clock")
    c0 = start_counter()
    clock.set(fake_time(c0))
    if source == "main-key":
        path, key1 = main_key(base)
        check = (lambda t, k: assert_counter(t, k, c0))
        conf = directives(path)
    else:
        path, key1 = new_state(base, (c0 - 2) * INTERVAL)
        check = (lambda t, k: assert_fs_counter(t, k, c0))
        conf = state_directives(path)
    slog = base / "strace.log"
    wrapper = ["strace", "-f", "-qq", "-e", "trace=open,openat,openat2", "-o", str(slog)]
    a = Apache(base, "a", module_so, cert, conf, procs, clock, wrapper,
               extra="StartServers 3\nMinSpareThreads 75\n")
    (parent,) = harness.children(a.proc.pid)  # strace's child: Apache's parent
    harness.wait_until(lambda: len(harness.children(parent)) >= 3, 60, "3 Apache children")
    s = base / "one.pem"
    check(ticket(harness.s_client(a.port, "1.2", sess_out=s)), key1)
    assert a.error_log().count("session tickets with keywheel keys") == 2  # both passes
    opens = strace_opens(slog, path)
    assert opens == [parent], f"{path.name} opened by {opens}; Apache's parent is {parent}, " \
                              f"its children {sorted(harness.children(parent))}"

    # a new key source in place (renamed over the old file), then a graceful restart
    if source == "main-key":
        key2 = harness.write_main_key(base / "main2.key")
        os.replace(base / "main2.key", path)
    else:
        p2, key2 = new_state(base, (c0 - 2) * INTERVAL, "fs2.state")
        os.replace(p2, path)
    old = harness.children(parent)
    os.kill(parent, signal.SIGUSR1)
    harness.wait_new_generation(parent, old, timeout=60)
    h = harness.s_client(a.port, "1.3", sess_out=base / "two.pem")
    check(ticket(h), key2)
    assert not harness.s_client(a.port, "1.2", sess_in=s).reused, "old key source still used"
    opens = strace_opens(slog, path)
    assert opens == [parent, parent], f"after a graceful restart: {path.name} opened by {opens}"
    os.kill(parent, signal.SIGTERM)
    a.proc.popen.wait(60)


# --- forward-secure mode (KeywheelState) -------------------------------------------------


def file_snapshot(path: Path) -> tuple[bytes, int, int]:
    st = path.stat()
    return path.read_bytes(), st.st_mtime_ns, st.st_ino


@pytest.mark.parametrize("tls", TLS, ids=["1.2", "1.3"])
def test_state_two_instances_resume_each_other(module_so, cert, base, procs, clocks, tls):
    """Two instances on the same forward-secure state (one by KeywheelState, one by
    KeywheelStateCredential from $CREDENTIALS_DIRECTORY) resume each other's tickets; every
    ticket verifies with the forward-secure reference key of the expected counter, not with a
    main-key-mode key; the state file is never written."""
    c0 = start_counter()
    path, seed = new_state(base, (c0 - 3) * INTERVAL)
    creds = base / "credentials"
    creds.mkdir(mode=0o700)
    shutil.copy(path, creds / "keywheel-fs")
    (creds / "keywheel-fs").chmod(0o400)
    before = file_snapshot(path)
    clock = FakeClock(clocks / "clock")
    clock.set(fake_time(c0))
    a = Apache(base, "a", module_so, cert, state_directives(path), procs, clock)
    b = Apache(base, "b", module_so, cert, state_directives(credential="keywheel-fs"), procs,
               clock, env={"CREDENTIALS_DIRECTORY": str(creds)})
    root_id = fi.root_id(seed).hex()
    for x, what in ((a, f"KeywheelState {path}"),
                    (b, f"KeywheelStateCredential keywheel-fs {creds / 'keywheel-fs'}")):
        log = x.error_log()
        assert f'label "{LABEL}", interval {INTERVAL} s, keep 1, forward-secure' in log, log
        log = (x.dir / "stderr.log").read_text()  # check_config runs before the error log opens
        assert re.search(re.escape(what) + r" \(\S+\): forward-secure state of root id " +
                         root_id + rf", starting at unix time {(c0 - 3) * INTERVAL} ", log), log
    for src, dst in ((a, b), (b, a)):
        s = base / f"{src.dir.name}-{tls}.pem"
        h = harness.s_client(src.port, tls, sess_out=s)
        assert not h.reused and h.protocol == f"TLSv{tls}", h.output[-2000:]
        t = ticket(h)
        assert_fs_counter(t, seed, c0)
        assert t[:16] != reference.ticket_key(seed, LABEL, STRENGTH, c0).name
        r = harness.s_client(dst.port, tls, sess_in=s)
        assert r.reused, f"{src.dir.name}'s ticket not resumed by {dst.dir.name} ({r})"
    assert file_snapshot(path) == before, "the module wrote the state file"


@pytest.mark.parametrize("tls", TLS, ids=["1.2", "1.3"])
def test_state_rotation_without_restart(module_so, cert, base, procs, clocks, tls):
    """Forward-secure mode, keep 1, no restart: at c0 + 1 a ticket of c0 resumes and is renewed
    with c0 + 1 and new tickets use c0 + 1; at c0 + 2 the c0 ticket makes a full handshake.
    The state file is never written (the module advances its copies in memory only)."""
    c0 = start_counter()
    path, seed = new_state(base, (c0 - 1) * INTERVAL)
    before = file_snapshot(path)
    clock = FakeClock(clocks / "clock")
    clock.set(fake_time(c0))
    a = Apache(base, "a", module_so, cert, state_directives(path), procs, clock)
    b = Apache(base, "b", module_so, cert, state_directives(path), procs, clock)
    pids = {x: (x.proc.pid, harness.children(x.proc.pid)) for x in (a, b)}
    s0 = base / "s0.pem"
    h = harness.s_client(a.port, tls, sess_out=s0)
    t0 = ticket(h)
    assert_fs_counter(t0, seed, c0)

    clock.set(fake_time(c0 + 1))
    time.sleep(2)  # the children's threads advance their copies (the keys do not depend on it)
    fresh = harness.s_client(b.port, tls, sess_out=base / "fresh.pem")
    assert not fresh.reused
    assert_fs_counter(ticket(fresh), seed, c0 + 1)
    r = harness.s_client(b.port, tls, sess_in=s0, sess_out=base / "s0-renewed.pem")
    assert r.reused, f"previous-interval ticket not resumed after the rotation ({r})"
    renewed = new_ticket_after_resumption(r, tls)
    assert renewed is not None and renewed != t0, "previous-interval ticket was not renewed"
    assert_fs_counter(renewed, seed, c0 + 1)

    clock.set(fake_time(c0 + 2))
    time.sleep(2)
    for x in (a, b):
        old = harness.s_client(x.port, tls, sess_in=s0, sess_out=base / "old.pem")
        assert not old.reused, f"a ticket two intervals old was resumed by {x.dir.name}"
        assert_fs_counter(ticket(old), seed, c0 + 2)
    assert harness.s_client(a.port, tls, sess_in=base / "fresh.pem").reused, \
        "the previous interval's ticket was refused"
    for x in (a, b):
        pid, kids = pids[x]
        assert x.proc.alive() and kids <= harness.children(pid), "Apache was restarted"
        log = x.error_log()
        assert log.count("AH00489") == 1 and "AH00493" not in log, log
        assert "cannot serve" not in log, log
    assert file_snapshot(path) == before, "the module wrote the state file"


def readable_memory(pid: int) -> list[tuple[str, bytes]]:
    """Every readable mapping of process `pid` (read as root from /proc/PID/mem), without its
    all-zero pages (the untouched thread stacks of the event MPM are most of it)."""
    out = []
    with open(f"/proc/{pid}/maps", encoding="utf-8") as maps, \
            open(f"/proc/{pid}/mem", "rb", buffering=0) as mem:
        for line in maps:
            m = re.match(r"([0-9a-f]+)-([0-9a-f]+) (\S+)", line)
            start, end, perms = int(m.group(1), 16), int(m.group(2), 16), m.group(3)
            if perms[0] != "r" or line.rstrip().endswith(("[vvar]", "[vsyscall]")):
                continue
            try:
                mem.seek(start)
                data = mem.read(end - start)
            except OSError:
                continue
            runs, run = [], []
            for i in range(0, len(data), PAGE):
                page = data[i:i + PAGE]
                if page.count(0) == len(page):
                    if run:
                        runs.append(b"".join(run))
                        run = []
                else:
                    run.append(page)
            if run:
                runs.append(b"".join(run))
            out.extend((line.strip(), r) for r in runs)
    assert out, f"nothing readable in {pid}"
    return out


PAGE = 4096


@pytest.mark.parametrize("mpm", ["event", "prefork"])
def test_state_old_nodes_wiped_from_every_process(module_so, cert, base, procs, clocks, mpm):
    """With the event MPM (Debian's default) and with prefork: after the rotation to c0 + 2 (keep 1: the oldest key accepted is c0 + 1), Apache's
    parent (monitor hook, about every 10 s) and each child (its own thread, every second) hold
    the state's cover of (c0 + 1) * interval — each of its nodes is found in each process's
    memory — and no tree node covering an earlier second (the covers of the file's start and
    of the earlier windows, and every node on the paths down to the leaves used), no leaf and
    no label key of c0 - 1 or c0 is left anywhere in their memory."""
    c0 = start_counter()
    file_start = (c0 - 2) * INTERVAL
    path, seed = new_state(base, file_start)
    clock = FakeClock(clocks / "clock")
    clock.set(fake_time(c0))
    a = Apache(base, "a", module_so, cert, state_directives(path), procs, clock, mpm=mpm)
    assert_fs_counter(ticket(harness.s_client(a.port, "1.2", sess_out=base / "s.pem")), seed, c0)
    clock.set(fake_time(c0 + 1))
    assert_fs_counter(ticket(harness.s_client(a.port, "1.3", sess_out=base / "t.pem")), seed,
                      c0 + 1)
    clock.set(fake_time(c0 + 2))
    final = (c0 + 1) * INTERVAL
    held = {f"node {n}": fi.node(seed, *n) for n in fi.cover(final)}
    names = set()
    for start in (file_start, (c0 - 1) * INTERVAL, c0 * INTERVAL):
        names.update(fi.cover(start))
    for c in range(c0 - 2, c0 + 3):
        names.update((h, (c * INTERVAL) >> h) for h in range(0, 41))
    gone = {f"node {(h, p)}": fi.node(seed, h, p) for h, p in sorted(names) if p << h < final}
    for c in (c0 - 1, c0):
        gone[f"label key {c}"] = fi.fs_label_key(seed, INTERVAL, c, LABEL.encode())
    assert len(gone) > 40

    def scan():
        report = {}
        for pid in [a.proc.pid, *sorted(harness.children(a.proc.pid))]:
            mem = readable_memory(pid)
            missing = [n for n, v in held.items() if not any(v in d for _, d in mem)]
            found = [n for n, v in gone.items() if any(v in d for _, d in mem)]
            if missing or found:
                report[pid] = (missing, found)
        return report

    time.sleep(11)  # the parent's monitor hook runs about every 10 s
    deadline = time.monotonic() + 40
    report = scan()
    while report and time.monotonic() < deadline:
        time.sleep(2)
        report = scan()
    assert not report, f"pid: (current nodes missing, old secrets still in memory): {report}"
    assert a.proc.alive()
    r = harness.s_client(a.port, "1.3", sess_in=base / "t.pem", sess_out=base / "t2.pem")
    assert r.reused, "the previous interval's ticket was refused after the advance"
    assert_fs_counter(new_ticket_after_resumption(r, "1.3"), seed, c0 + 2)
    assert "cannot serve" not in a.error_log() and "exit signal" not in a.error_log()


# --- bad directive values -----------------------------------------------------------------


def refuse(base: Path, so: Path, cert, keywheel: str, mode: str, extra: str = "") -> str:
    """Start Apache (mode "start") or run its config test ("configtest": apache2 -t) with
    `keywheel` directives; it must exit non-zero. Returns stdout + stderr + error log."""
    d = base / "bad"
    d.mkdir()
    d.chmod(0o755)
    conf = config(d, so, cert, harness.free_port(), keywheel, extra)
    cmd = ["apache2", "-f", str(conf)] + (["-t"] if mode == "configtest" else ["-DFOREGROUND"])
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail(f"Apache started with:\n{keywheel}")  # run() killed it
    log = (d / "error.log").read_text(errors="replace") if (d / "error.log").exists() else ""
    out = r.stdout + r.stderr + log
    assert r.returncode != 0, f"apache2 ({mode}) exited 0 with:\n{keywheel}\n{out}"
    assert "Syntax OK" not in out
    return out


BAD = {
    # name: (directives given a key file path K, expected fragments of the message)
    "interval-odd": (lambda k: directives(k, interval=3601),
                     ["KeywheelInterval 3601", "odd", "10..=604800"]),
    "interval-small": (lambda k: directives(k, interval=8),
                       ["KeywheelInterval 8", "10..=604800"]),
    "interval-large": (lambda k: directives(k, interval=604802),
                       ["KeywheelInterval 604802", "10..=604800"]),
    "interval-text": (lambda k: directives(k) + "\nKeywheelInterval 1h",
                      ['KeywheelInterval "1h": not a whole number', "10..604800"]),
    "keep": (lambda k: directives(k, interval=86400, keep=7),
             ["KeywheelKeep 7", "KeywheelInterval 86400", "604800"]),
    "keep-negative": (lambda k: directives(k) + "\nKeywheelKeep -1",
                      ['KeywheelKeep "-1": not a whole number']),
    "label-long": (lambda k: directives(k, label="x" * 65), ["KeywheelLabel \"" + "x" * 65, "64"]),
    # Apache's parser gives an empty argument as none: its own message, with the range
    "label-empty": (lambda k: directives(k, label=""),
                    ["KeywheelLabel takes one argument", "1..64 bytes"]),
    "label-missing": (lambda k: f"KeywheelMainKey {k}", ["no KeywheelLabel"]),
    "strength": (lambda k: directives(k) + "\nKeywheelStrength AES128",
                 ["KeywheelStrength", '"AES128" is unknown', "aes256, aes128"]),
    "main-key-missing": (lambda k: directives(k.with_name("absent.key")),
                         ["KeywheelMainKey", "absent.key", "No such file"]),
    "main-key-insecure": (None, ["KeywheelMainKey", "mode 0640", "group or others"]),
    "main-key-short": (None, ["KeywheelMainKey", "31 bytes", "at least 32"]),
}


@pytest.mark.parametrize("mode", ["start", "configtest"])
@pytest.mark.parametrize("case", list(BAD))
def test_bad_directive_value_refuses_to_start(module_so, cert, base, case, mode):
    make, fragments = BAD[case]
    key_file, _ = main_key(base)
    if case == "main-key-insecure":
        key_file.chmod(0o640)
        make = directives
    elif case == "main-key-short":
        key_file.write_bytes(os.urandom(31))
        make = directives
    out = refuse(base, module_so, cert, make(key_file), mode)
    lines = [line for line in out.splitlines() if all(f in line for f in fragments)]
    assert lines, f"no line with {fragments} in:\n{out}"
    print(lines[0])


def _flip_last_byte(p: Path) -> None:
    data = bytearray(p.read_bytes())
    data[-1] ^= 1
    p.write_bytes(bytes(data))


BAD_STATE = {
    # name: (setup(state file, main key file) -> directives, expected fragments of the message)
    "main-key-and-state": (lambda st, k: directives(k) + f"\nKeywheelState {st}",
                           ["KeywheelMainKey", "KeywheelState {st}", "never both"]),
    "main-key-and-state-credential": (
        lambda st, k: directives(k) + "\nKeywheelStateCredential keywheel-fs",
        ["KeywheelMainKey", "KeywheelStateCredential keywheel-fs", "never both"]),
    # the server config's main key, inherited by a virtual host that sets a state
    "main-key-inherited-and-state": (lambda st, k: directives(k),
                                     ["KeywheelMainKey", "KeywheelState {st} (", "httpd.conf:",
                                      "never both"]),
    "state-missing": (lambda st, k: state_directives(st.with_name("absent.state")),
                      ["KeywheelState", "absent.state", "No such file"]),
    "state-checksum": (lambda st, k: (_flip_last_byte(st), state_directives(st))[1],
                       ["KeywheelState", "{st}", "checksum"]),
    "state-truncated": (lambda st, k: (st.write_bytes(st.read_bytes()[:100]),
                                       state_directives(st))[1],
                        ["KeywheelState", "{st}", "100"]),
    "state-insecure": (lambda st, k: (st.chmod(0o640), state_directives(st))[1],
                       ["KeywheelState", "{st}", "mode 0640"]),
    "state-not-a-state": (lambda st, k: state_directives(k),
                          ["KeywheelState", "main.key", "magic"]),
    "state-punctured": (None, ["KeywheelState", "{st}", "KeywheelKeep 1", "KeywheelInterval 3600"]),
    "state-no-label": (lambda st, k: f"KeywheelState {st}", ["KeywheelState", "no KeywheelLabel"]),
    "state-credential-no-directory": (lambda st, k: state_directives(credential="keywheel-fs"),
                                      ["KeywheelStateCredential keywheel-fs",
                                       "CREDENTIALS_DIRECTORY is not set"]),
    "state-credential-name": (lambda st, k: state_directives(credential="../fs"),
                              ['KeywheelStateCredential "../fs"', "not a credential name"]),
}


@pytest.mark.parametrize("mode", ["start", "configtest"])
@pytest.mark.parametrize("case", list(BAD_STATE))
def test_bad_state_refuses_to_start(module_so, cert, base, case, mode, monkeypatch):
    """A bad forward-secure state (file or directive) or a main key together with a state:
    Apache does not start (nor pass its config test) and says which directive and file."""
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    make, fragments = BAD_STATE[case]
    now = int(time.time())
    key_file, _ = main_key(base)
    if case == "state-punctured":
        # starts after the previous interval: the key accepted for keep 1 cannot be derived
        st, _ = new_state(base, (now // INTERVAL) * INTERVAL + 1)
        make = (lambda st, k: state_directives(st))
    else:
        st, _ = new_state(base, (now // INTERVAL - 2) * INTERVAL)
    if case == "main-key-and-state-credential":
        creds = base / "credentials"
        creds.mkdir(mode=0o700)
        shutil.copy(st, creds / "keywheel-fs")
        monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    extra = ""
    if case == "main-key-inherited-and-state":
        port = harness.free_port()
        cert_file, key_pem = cert
        extra = f"""Listen 127.0.0.1:{port}
<VirtualHost 127.0.0.1:{port}>
    ServerName localhost:443
    SSLEngine on
    SSLCertificateFile {cert_file}
    SSLCertificateKeyFile {key_pem}
    KeywheelState {st}
</VirtualHost>
"""
    out = refuse(base, module_so, cert, make(st, key_file), mode, extra)
    fragments = [f.replace("{st}", str(st)) for f in fragments]
    lines = [line for line in out.splitlines() if all(f in line for f in fragments)]
    assert lines, f"no line with {fragments} in:\n{out}"
    print(lines[0])


# --- memory checks ------------------------------------------------------------------------


@pytest.mark.parametrize("source", ["main-key", "state"])
def test_valgrind_no_error_or_leak_from_the_module(module_so, cert, base, procs, clocks, source):
    """Apache in one process (-X) under valgrind: handshakes and resumptions on TLS 1.2 and
    1.3, a rotation (forward-secure mode: the thread advancing the state runs, and is stopped
    at exit), then SIGTERM (Apache frees its configuration pool, so the ticket keys). No
    valgrind error and no definitely/indirectly lost block may involve mod_keywheel or
    libkeywheel."""
    if shutil.which("valgrind") is None:
        pytest.fail("valgrind is not installed")
    c0 = start_counter()
    if source == "main-key":
        key_file, main = main_key(base)
        conf = directives(key_file)
        check = (lambda t, c: assert_counter(t, main, c))
    else:
        state, seed = new_state(base, (c0 - 2) * INTERVAL)
        conf = state_directives(state)
        check = (lambda t, c: assert_fs_counter(t, seed, c))
    clock = FakeClock(clocks / "clock")
    clock.set(fake_time(c0))
    vlog = base / "valgrind.log"
    wrapper = ["valgrind", "--leak-check=full", "--show-leak-kinds=definite,indirect",
               "--errors-for-leak-kinds=definite,indirect", "--num-callers=40",
               "--trace-children=no", "--vgdb=no", "--keep-debuginfo=yes", f"--log-file={vlog}"]
    # valgrind must not load libfaketime into itself: it is preloaded into apache2 through
    # valgrind's own LD_PRELOAD handling of the environment.
    a = Apache(base, "a", module_so, cert, conf, procs, clock, wrapper, single=True)
    for tls in TLS:
        s = base / f"v{tls}.pem"
        h = harness.s_client(a.port, tls, sess_out=s, timeout=120)
        check(ticket(h), c0)
        assert harness.s_client(a.port, tls, sess_in=s, timeout=120).reused
    clock.set(fake_time(c0 + 1))  # a renewal (previous key) path too
    time.sleep(3)  # forward-secure: the thread advances the state (under valgrind: slowly)
    r = harness.s_client(a.port, "1.2", sess_in=base / "v1.2.pem", timeout=120)
    assert r.reused
    check(r.printed_ticket, c0 + 1)
    a.proc.signal(signal.SIGTERM)
    a.proc.popen.wait(120)
    text = vlog.read_text(errors="replace")
    assert "ERROR SUMMARY" in text, text[-3000:]
    # the process valgrind watched is the one that installed the callback and served
    vpid = re.search(r"^==(\d+)== Command: apache2 ", text, re.M)
    assert vpid, text[:2000]
    log = a.error_log()
    assert re.search(rf"\[keywheel:info\] \[pid {vpid.group(1)}:.*session tickets with keywheel",
                     log), log
    assert re.search(rf"\[pid {vpid.group(1)}:.*AH01964: Connection to child", log), log
    # Apache unloads its modules before valgrind's leak check: --keep-debuginfo=yes keeps the
    # module's symbols in the records. With Debian's Apache and OpenSSL this run has no error
    # and no definitely/indirectly lost block at all, so any one fails the test; those that
    # name the module or libkeywheel are shown first.
    summary = re.search(r"ERROR SUMMARY: (\d+) errors", text)
    assert summary, text[-3000:]
    records = re.split(r"\n==\d+== \n", text)
    ours = re.compile(r"mod_keywheel|keywheel_|libkeywheel|keywheel::")
    flagged = [r for r in records if re.search(r"Invalid|uninitialised|definitely lost in|"
                                               r"indirectly lost in|Mismatched|overlap", r)]
    flagged.sort(key=lambda r: not ours.search(r))
    assert summary.group(1) == "0" and not flagged, (
        "valgrind found problems:\n" + "\n----\n".join(flagged) + "\n" + text[-1500:])
    heap = re.search(r"total heap usage: .*", text)
    print(f"valgrind: {summary.group(0)}; {heap.group(0) if heap else ''}")
