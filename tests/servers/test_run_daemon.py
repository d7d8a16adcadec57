"""One `keywheel run` daemon serving TCP Fast Open keys (a stand-in procfs file), an nginx
target and a HAProxy target from one configuration file, against real servers, on the real
clock; then a main-key rollover done the documented way (docs/rollover.md): restart with the new
main key and `previous_main_key` = the old one, then without it.

What is checked, as in the other server tests: every ticket a server issues is the reference
key (reference.py, hashlib) of the expected main key and counter; tickets resume. Across the
switch: nginx resumes tickets made under the old main key (decrypt-only keys) and renews them
under the new one; HAProxy cannot (its ring holds exactly 3 keys, documented), so an old
ticket there makes a full handshake; once `previous_main_key` is removed nginx no longer
resumes old tickets either. `keywheel status` and `keywheel check` agree with all of it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

import harness
import reference
import scenarios
from test_haproxy import Client as HaproxyClient
from test_haproxy import HaproxyInstance
from test_nginx import NginxInstance

LABEL = "shop.example"
STEK_INTERVAL = 86400  # no ticket-key rotation during the test (checked at start)
TFO_INTERVAL = 10  # TFO keys change every 5 s meanwhile
TLS = ["1.2", "1.3"]


@pytest.fixture(scope="module", autouse=True)
def installed():
    harness.ensure_packages(["nginx", "haproxy", "openssl"])


@dataclass
class Issuer:
    """What the checkers need to know which key a server must use: main key, label, format,
    and the current counter on the real clock."""

    main: bytes
    fmt: str
    label: str = LABEL

    @property
    def strength(self) -> str:
        return reference.FORMATS[self.fmt][0]

    @property
    def counter(self) -> int:
        return reference.current_counter(int(time.time()), STEK_INTERVAL)


def tfo_text(main: bytes, now: int) -> str:
    """The TFO keys of SPEC.md section 3, with hashlib: "primary,backup" at `now`."""
    def key(n: int) -> str:
        h = hashlib.blake2b(b"", digest_size=16, key=main[:32],
                            salt=n.to_bytes(8, "little") + bytes(8),
                            person=b"tofurkey" + bytes(8)).hexdigest()
        return "-".join(h[i:i + 8] for i in range(0, 32, 8))
    p = now // TFO_INTERVAL
    b = p + 1 if now % TFO_INTERVAL >= TFO_INTERVAL // 2 else p - 1
    return f"{key(p)},{key(b)}"


class Daemon:
    """`keywheel run` started like systemd would (NOTIFY_SOCKET), stopped by SIGTERM."""

    def __init__(self, name: str, config: Path, d: Path, notify_dir: Path, procs: list):
        self.sock_path = notify_dir / f"{name}.sock"
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(self.sock_path))
        self.sock.settimeout(30)
        env = dict(os.environ, NOTIFY_SOCKET=str(self.sock_path))
        env.pop("KEYWHEEL_FAKE_NOW_FILE", None)
        self.log = d / f"{name}.log"
        self.proc = harness.start(f"keywheel run {name}",
                                  [str(harness.keywheel_bin()), "run", "--config", str(config),
                                   "--verbose"], self.log, env=env)
        procs.append(self.proc)

    def wait_ready(self) -> list[str]:
        notes = []
        while True:
            try:
                data = self.sock.recv(4096).decode()
            except TimeoutError:
                raise AssertionError(f"no READY=1; log:\n{self.proc.log_tail()}") from None
            notes.append(data)
            if "READY=1" in data.splitlines():
                return notes

    def lines(self) -> list[str]:
        return self.log.read_text(errors="replace").splitlines()

    def wait_line(self, pattern: str, timeout: float = 30) -> str:
        rx = re.compile(pattern)

        def found():
            if not self.proc.alive():
                raise AssertionError(f"keywheel exited:\n{self.proc.log_tail()}")
            return next((line for line in self.lines() if rx.search(line)), None)

        return harness.wait_until(found, timeout, f"a log line matching {pattern!r}")

    def stop(self, expected_errors: str | None = None) -> None:
        """SIGTERM: the daemon dies by the signal (no handler), as systemd expects. Every
        error it logged must match `expected_errors`."""
        self.proc.signal(signal.SIGTERM)
        rc = self.proc.popen.wait(20)
        assert rc == -signal.SIGTERM, f"exit {rc}:\n{self.proc.log_tail()}"
        self.sock.close()
        errors = [line for line in self.lines() if line.startswith(("error", "FATAL"))
                  and not (expected_errors and re.match(expected_errors, line))]
        assert not errors, "\n".join(errors)


def write_config(path: Path, main: Path, previous: Path | None, d: Path, nginx_pid: Path,
                 haproxy_sock: Path) -> None:
    prev = f'previous_main_key = "{previous}"\n' if previous else ""
    path.write_text(f"""\
main_key = "{main}"
{prev}metrics_file = "{d}/keywheel.prom"

[tfo]
interval = {TFO_INTERVAL}
procfs = "{d}/tcp_fastopen_key"

[[stek]]
name = "web"
format = "nginx"
label = "{LABEL}"
interval = {STEK_INTERVAL}
out = "{d}/nginx-keys"
allow_persistent = true
# like `systemctl try-reload-or-restart nginx`: nothing to do while nginx is not running
reload = "[ ! -s {nginx_pid} ] || kill -HUP $(cat {nginx_pid})"

[[stek]]
name = "lb"
format = "haproxy"
label = "{LABEL}"
interval = {STEK_INTERVAL}
out = "{d}/haproxy.keys"
haproxy_socket = "{haproxy_sock}"
allow_persistent = true
""")


def keywheel(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.pop("KEYWHEEL_FAKE_NOW_FILE", None)
    return subprocess.run([str(harness.keywheel_bin()), *args], capture_output=True, text=True,
                          env=env, timeout=60)


def status(config: Path) -> dict:
    r = keywheel("status", "--config", str(config), "--json")
    assert r.returncode == 0, r.stderr
    return {t["name"]: t for t in json.loads(r.stdout)["targets"]}


def test_one_daemon_serves_tfo_nginx_and_haproxy_and_rolls_the_main_key(tmp_path, procs):
    # No ticket-key rotation may happen during the test: it takes well under 10 minutes.
    left = STEK_INTERVAL - int(time.time()) % STEK_INTERVAL
    if left < 600:
        time.sleep(left + 3)
    d = tmp_path
    d.chmod(0o755)
    notify_dir = Path(tempfile.mkdtemp(prefix="kwrun-"))  # short paths for UNIX sockets
    (d / "nginx-keys").mkdir()
    (d / "tcp_fastopen_key").write_bytes(b"sentinel")
    old_file, new_file = d / "old.key", d / "new.key"
    old = harness.write_main_key(old_file)
    new = harness.write_main_key(new_file)
    cert, key = harness.make_cert(d / "cert")
    bundle = d / "cert" / "bundle.pem"
    bundle.write_bytes(cert.read_bytes() + key.read_bytes())
    nginx_dir, haproxy_dir = d / "nginx", d / "haproxy"
    nginx_dir.mkdir()
    haproxy_dir.mkdir()
    haproxy_sock = notify_dir / "haproxy.sock"
    config = d / "keywheel.toml"

    # 1. One daemon, main key `old`: TFO, nginx and HAProxy keys, then READY=1 (with STATUS=).
    write_config(config, old_file, None, d, nginx_dir / "nginx.pid", haproxy_sock)
    r = keywheel("check-config", str(config))
    assert r.returncode == 0, r.stderr
    d1 = Daemon("d1", config, d, notify_dir, procs)
    notes = d1.wait_ready()
    assert any("STATUS=3 targets up to date" in n for n in notes) or any(
        "STATUS=keys installed; failing, retrying: lb (haproxy)" in n for n in notes), notes
    # The servers start after keywheel (systemd: After=keywheel.service) and read its files.
    ng = NginxInstance(nginx_dir, (cert, key), d / "nginx-keys", procs)
    hp = HaproxyInstance(haproxy_dir, haproxy_sock, bundle, d / "haproxy.keys", procs)
    # The daemon's retries reach HAProxy's socket once it is up (it held the file's keys).
    d1.wait_line(r"^info: lb: HAProxy at .*holds counters .*; (already held them|pushed)")
    (d / "nginx-sessions").mkdir()
    (d / "haproxy-sessions").mkdir()
    nginx_check = scenarios.Checker(d / "nginx-sessions")
    haproxy_client = HaproxyClient(d / "haproxy-sessions")
    old_ng, old_hp = Issuer(old, "nginx"), Issuer(old, "haproxy")
    sessions = {}
    for tls in TLS:
        s = nginx_check.new_session(ng, tls, old_ng)
        nginx_check.resumes(ng, tls, s, old_ng)
        h = haproxy_client.new_session(hp, tls, old_hp)
        haproxy_client.resumes(hp, tls, h, old_hp)
        sessions[tls] = (s, h)
    # TFO: the stand-in procfs file holds the reference keys of the daemon's last write.
    tfo = d1.wait_line(r"^info: tfo: TFO keys for unix time \d+")
    time.sleep(6)  # at least one TFO rotation by the same loop
    writes = [int(m.group(1)) for line in d1.lines()
              if (m := re.match(r"^info: tfo: TFO keys for unix time (\d+):", line))]
    assert len(writes) >= 2 and writes[-1] % 5 == 2, (tfo, writes)
    # (the next write may happen while we read: accept the last two)
    got = (d / "tcp_fastopen_key").read_bytes()
    assert got in {(tfo_text(old, t) + "\0").encode() for t in writes[-2:]}, got
    st = status(config)
    # (TFO rotates every 5 s, 2.02 s after the boundary: just after one it is "stale".)
    assert st["tfo"]["state"] == "fresh" or (
        st["tfo"]["state"] == "stale" and st["tfo"]["stale_seconds"] <= 3), st["tfo"]
    assert st["web"]["state"] == st["lb"]["state"] == "fresh", st
    assert st["lb"]["haproxy"]["fresh"] is True, st["lb"]
    assert st["web"]["fingerprint"] == reference.ticket_key(
        old, LABEL, "aes256", old_ng.counter).name.hex()
    r = keywheel("check", "--config", str(config))
    assert r.returncode == 0 and r.stdout.startswith("KEYWHEEL OK - 3 of 3 targets fresh"), r.stdout
    metrics = (d / "keywheel.prom").read_text()
    assert 'keywheel_target_up{target="web"} 1' in metrics, metrics
    assert "keywheel_ready 1" in metrics, metrics
    # (HAProxy's socket was missing until HAProxy started: retried, as designed.)
    d1.stop(expected_errors=r"^error: lb: cannot connect to HAProxy at .*; retrying in \d+ s$")

    # 2. Rollover: the new main key encrypts, the old one stays accepted (decrypt only).
    write_config(config, new_file, old_file, d, nginx_dir / "nginx.pid", haproxy_sock)
    old_workers = harness.children(ng.proc.pid)
    d2 = Daemon("d2", config, d, notify_dir, procs)
    d2.wait_ready()
    d2.wait_line(r"^info: web: reload command .* succeeded")
    harness.wait_new_generation(ng.proc.pid, old_workers)
    d2.wait_line(r"^info: lb: HAProxy at .*; pushed 3 keys")
    assert any("the previous main key is not used for format haproxy" in line
               for line in d2.lines())
    new_ng, new_hp = Issuer(new, "nginx"), Issuer(new, "haproxy")
    for tls in TLS:
        s_old, h_old = sessions[tls]
        # nginx: the old ticket resumes and is renewed under the new main key.
        nginx_check.resumes(ng, tls, s_old, new_ng, renewed=True)
        s_new = nginx_check.new_session(ng, tls, new_ng)
        nginx_check.resumes(ng, tls, s_new, new_ng)
        # HAProxy (3-key ring, documented): the old ticket makes a full handshake, whose
        # ticket is under the new main key.
        haproxy_client.does_not_resume(hp, tls, h_old, new_hp)
        h_new = haproxy_client.new_session(hp, tls, new_hp)
        haproxy_client.resumes(hp, tls, h_new, new_hp)
        sessions[tls] = (s_old, s_new)
    st = status(config)
    assert st["web"]["state"] == st["lb"]["state"] == "fresh", st
    mains = [k["main_key"] for k in st["web"]["keys"]]
    assert mains == ["main"] * 3 + ["previous"] * 3, mains
    r = keywheel("check", "--config", str(config))
    assert r.returncode == 0, r.stdout
    d2.stop()

    # 3. After the longest ticket lifetime: the old main key is removed from the config.
    write_config(config, new_file, None, d, nginx_dir / "nginx.pid", haproxy_sock)
    old_workers = harness.children(ng.proc.pid)
    d3 = Daemon("d3", config, d, notify_dir, procs)
    d3.wait_ready()
    d3.wait_line(r"^info: web: reload command .* succeeded")
    harness.wait_new_generation(ng.proc.pid, old_workers)
    for tls in TLS:
        s_old, s_new = sessions[tls]
        nginx_check.does_not_resume(ng, tls, s_old, new_ng)
        nginx_check.resumes(ng, tls, s_new, new_ng)
    assert len(list((d / "nginx-keys" / "current").iterdir())) == 3
    d3.stop()
