"""Shared harness of the real-server session-ticket tests (nginx, Apache httpd, Traffic Server,
HAProxy).

Everything here uses 127.0.0.1 only, starts processes itself and stops them by pid (never by
name). Expected key names and keys come from reference.py (an independent implementation of
SPEC.md section 4), never from keywheel itself.

Main pieces:
- ensure_packages(): apt-get install what is missing, without letting Debian start services.
- write_keys(): key files via the real `keywheel stek` CLI (the reference renderer only when
  explicitly asked for, see WRITER below).
- make_cert(), free_port(), start()/Proc.stop(), wait_for_port(), children().
- s_client(): one `openssl s_client` connection (TLS 1.2 or 1.3), optional -sess_in/-sess_out,
  sends a tiny HTTP request with -ign_eof so the TLS 1.3 ticket arrives; reports "Reused".
- session_ticket(): the ticket bytes of a saved session (DER of SSL_SESSION, field [10]).
- check_ticket() / assert_ticket(): name16 | IV16 | AES-CBC ciphertext | HMAC-SHA256 checked
  against the reference keys of an expected counter.
"""

from __future__ import annotations

import functools
import hashlib
import hmac as _hmac
import os
import re
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import reference

REPO_ROOT = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"

# Who writes the key files: "cli" (the real `keywheel stek`; the default, and what run.sh uses)
# or "reference" (reference.render: only for developing a test without the CLI; must be asked
# for explicitly with KEYWHEEL_STEK_WRITER=reference and never used by the real tests).
WRITER = os.environ.get("KEYWHEEL_STEK_WRITER", "cli")


# --- packages -------------------------------------------------------------------------------


def _installed(pkg: str) -> bool:
    r = subprocess.run(
        ["dpkg-query", "-W", "-f=${Status}", pkg], capture_output=True, text=True
    )
    return r.returncode == 0 and "install ok installed" in r.stdout


# pid files of the services Debian could start on install, and the programs they belong to.
_SERVICE_PIDFILES = {
    "nginx": (["/run/nginx.pid"], {"nginx"}),
    "apache2": (["/run/apache2/apache2.pid", "/var/run/apache2/apache2.pid"], {"apache2"}),
    "haproxy": (["/run/haproxy.pid"], {"haproxy"}),
    "trafficserver": (["/run/trafficserver/manager.lock", "/run/trafficserver/server.lock"],
                      {"traffic_manager", "traffic_server"}),
}


def ensure_packages(packages: list[str]) -> None:
    """apt-get install the missing packages (root only). Debian must not start services:
    a temporary policy-rc.d that denies starts is used when none exists; services that run
    anyway are stopped by their pid file."""
    missing = [p for p in packages if not _installed(p)]
    if not missing:
        return
    policy = Path("/usr/sbin/policy-rc.d")
    created = False
    if not policy.exists():
        policy.write_text("#!/bin/sh\n# keywheel tests: do not start services\nexit 101\n")
        policy.chmod(0o755)
        created = True
    try:
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        cmd = ["apt-get", "-o", "DPkg::Lock::Timeout=600", "install", "-y", "-q",
               "--no-install-recommends", *missing]
        r = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if r.returncode != 0:
            subprocess.run(["apt-get", "-o", "DPkg::Lock::Timeout=600", "update", "-q"],
                           env=env, capture_output=True)
            r = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"apt-get install {' '.join(missing)} failed:\n{r.stdout}\n{r.stderr}")
    finally:
        if created:
            policy.unlink()
    for pkg in missing:  # stop a service an install started anyway, by its pid file
        pidfiles, programs = _SERVICE_PIDFILES.get(pkg, ([], set()))
        for pf in pidfiles:
            try:
                pid = int(Path(pf).read_text().split()[0])
                if Path(os.readlink(f"/proc/{pid}/exe")).name in programs:
                    os.kill(pid, signal.SIGTERM)
            except (OSError, ValueError, IndexError):
                pass


# --- keys -----------------------------------------------------------------------------------


def keywheel_bin() -> Path:
    """$KEYWHEEL_BIN_DIR/keywheel, else $CARGO_TARGET_DIR/debug, else target/debug."""
    d = os.environ.get("KEYWHEEL_BIN_DIR")
    if d:
        return Path(d).resolve() / "keywheel"
    t = os.environ.get("CARGO_TARGET_DIR")
    if t:
        return (REPO_ROOT / t / "debug" / "keywheel").resolve()
    return REPO_ROOT / "target" / "debug" / "keywheel"


@functools.lru_cache(maxsize=None)
def stek_cli_available() -> bool:
    b = keywheel_bin()
    if not b.is_file():
        return False
    r = subprocess.run([str(b), "stek", "--help"], capture_output=True, text=True)
    return r.returncode == 0


def writer() -> str:
    """The writer in use: 'cli' or 'reference' (see WRITER)."""
    if WRITER == "cli":
        if not stek_cli_available():
            raise RuntimeError(f"{keywheel_bin()} has no `stek` subcommand: build it "
                               "(cargo build -p keywheel-cli) or set KEYWHEEL_BIN_DIR")
        return "cli"
    if WRITER == "reference":
        return "reference"
    raise RuntimeError(f"KEYWHEEL_STEK_WRITER={WRITER!r}: must be 'cli' or 'reference'")


def write_main_key(path: Path, material: bytes | None = None) -> bytes:
    """Write a main key file (mode 0600) and return its 32 bytes."""
    material = material if material is not None else os.urandom(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, material)
    finally:
        os.close(fd)
    return material[:32]


def write_keys(fmt: str, label: str, main_key_file: Path, interval: int, keep: int,
               out: Path, now: int, extra: list[str] | None = None) -> str:
    """Write the key files of `fmt` at fake time `now`; returns the writer used."""
    w = writer()
    if w == "cli":
        cmd = [str(keywheel_bin()), "stek", "--format", fmt, "--label", label,
               "--main-key", str(main_key_file), "--interval", str(interval),
               "--keep", str(keep), "--out", str(out), "--once", "--time", str(now),
               "--allow-persistent", *(extra or [])]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} exited {r.returncode}:\n{r.stdout}{r.stderr}")
    else:
        main = Path(main_key_file).read_bytes()
        reference.render(fmt, main, label, now, interval, keep, Path(out))
    return w


# --- certificates, ports, processes -------------------------------------------------------


def make_cert(directory: Path, cn: str = "localhost") -> tuple[Path, Path]:
    """A self-signed P-256 certificate and key (openssl CLI); returns (cert, key)."""
    directory.mkdir(parents=True, exist_ok=True)
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-subj", f"/CN={cn}", "-days", "2", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )
    key.chmod(0o644)  # servers may read it after dropping privileges (test key only)
    return cert, key


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


@dataclass
class Proc:
    """A process we started (by pid); stop() sends SIGTERM, then SIGKILL, to that pid only."""

    name: str
    popen: subprocess.Popen
    log: Path
    extra_pids: list[int] = field(default_factory=list)
    started: float = field(default_factory=time.time)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_tail(self, n: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def signal(self, sig: int) -> None:
        os.kill(self.pid, sig)

    def terminate(self) -> None:
        """Send SIGTERM to the pid (no wait); stop() then waits."""
        if self.alive():
            os.kill(self.pid, signal.SIGTERM)

    def stop(self, timeout: float = 20) -> None:
        if self.alive():
            os.kill(self.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.popen.wait(10)
        for pid in self.extra_pids:
            if pid_alive(pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
        if not self.alive():
            remove_faketime_leftovers(self.pid, self.started)


def remove_faketime_leftovers(pid: int, since: float) -> None:
    """libfaketime (Debian 0.9.10) gives the first faked process of a tree a shared-memory
    object and a semaphore in /dev/shm, named by its pid, and removes them only when that
    process exits through its own exit path: remove those of our process `pid`, started at
    `since` — only if written since then (pids wrap; an older object is another process's)."""
    for leftover in (f"/dev/shm/faketime_shm_{pid}", f"/dev/shm/sem.faketime_sem_{pid}"):
        try:
            if os.stat(leftover).st_mtime >= since - 1:
                os.unlink(leftover)
        except FileNotFoundError:
            pass


def start(name: str, cmd: list[str], log: Path, env: dict | None = None,
          cwd: Path | None = None) -> Proc:
    """Start cmd in the background (its own session), stdout+stderr to log."""
    fh = open(log, "ab")
    p = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                         env=env, cwd=cwd, start_new_session=True)
    fh.close()
    return Proc(name, p, log)


def pid_alive(pid: int) -> bool:
    try:
        st = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return st.rsplit(")", 1)[1].split()[0] != "Z"


def children(pid: int) -> set[int]:
    """Live (non-zombie) child pids of pid."""
    out = set()
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            st = (d / "stat").read_text()
        except OSError:
            continue
        rest = st.rsplit(")", 1)[1].split()
        if rest[0] != "Z" and int(rest[1]) == pid:
            out.add(int(d.name))
    return out


def wait_until(cond, timeout: float, what: str, step: float = 0.05):
    """Poll cond() until it returns a true value (returned) or raise after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(step)


def port_open(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=1):
            return True
    except OSError:
        return False


def wait_for_port(port: int, proc: Proc | None = None, timeout: float = 30) -> None:
    """Wait until 127.0.0.1:port accepts connections; fail early if proc died."""

    def ready():
        if proc is not None and not proc.alive():
            raise RuntimeError(f"{proc.name} exited with {proc.popen.returncode}:\n{proc.log_tail()}")
        return port_open(port)

    wait_until(ready, timeout, f"127.0.0.1:{port}")


def wait_new_generation(master: int, old: set[int], timeout: float = 30) -> set[int]:
    """After a reload signal: wait until every old child of master is gone and new ones run."""

    def done():
        now = children(master)
        return now if (now and not (now & old)) else None

    return wait_until(done, timeout, f"children of {master} to be replaced after reload")


# --- openssl s_client ----------------------------------------------------------------------


@dataclass
class Handshake:
    output: str
    reused: bool
    protocol: str | None  # "TLSv1.2" / "TLSv1.3" as s_client reports it
    session: Path | None  # the -sess_out file, if a session was saved
    printed_ticket: bytes | None  # the ticket of the session s_client printed after the handshake

    def __str__(self) -> str:
        state = "Reused" if self.reused else "New"
        return f"{state}, {self.protocol}"


_SESSION_LINE = re.compile(r"^(New|Reused), (TLSv1(?:\.\d)?|SSLv3)", re.M)


def s_client(port: int, tls: str, sess_out: Path | None = None, sess_in: Path | None = None,
             request: bytes | None = None, servername: str | None = None,
             timeout: float = 30) -> Handshake:
    """One TLS connection with `openssl s_client` to 127.0.0.1:port. tls is "1.2" or "1.3".
    Sends `request` (default: a tiny HTTP/1.0 GET) and, with -ign_eof, reads until the server
    closes, so a TLS 1.3 ticket (sent after the handshake) is received and saved."""
    if request is None:
        request = b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n"
    cmd = ["openssl", "s_client", "-connect", f"{HOST}:{port}", f"-tls{tls.replace('.', '_')}",
           "-ign_eof"]
    if servername:
        cmd += ["-servername", servername]
    if sess_out is not None:
        if Path(sess_out).exists():
            Path(sess_out).unlink()
        cmd += ["-sess_out", str(sess_out)]
    if sess_in is not None:
        cmd += ["-sess_in", str(sess_in)]
    r = subprocess.run(cmd, input=request, capture_output=True, timeout=timeout)
    out = r.stdout.decode(errors="replace") + r.stderr.decode(errors="replace")
    m = _SESSION_LINE.search(out)
    saved = Path(sess_out) if sess_out is not None and Path(sess_out).exists() else None
    return Handshake(out, bool(m and m.group(1) == "Reused"), m.group(2) if m else None, saved,
                     printed_ticket(out))


def printed_ticket(output: str) -> bytes | None:
    """The "TLS session ticket:" hex dump of the SSL-Session block s_client prints right after
    the handshake (BIO_dump format: "xxxx - " then 16 bytes as "hh" + ' ' or '-', then ASCII).
    On a TLS 1.2 resumption where the server renewed the ticket, this is the new ticket (s_client
    does not pass it to -sess_out then); in TLS 1.3 tickets arrive later and are not in it."""
    lines = output.splitlines()
    for i, line in enumerate(lines):
        if line.strip() == "TLS session ticket:":
            data = bytearray()
            for dump in lines[i + 1:]:
                m = re.match(r"^\s*[0-9a-f]{4} - (.*)$", dump)
                if not m:
                    break
                data += bytes.fromhex(m.group(1)[:48].replace("-", " "))
            return bytes(data) or None
    return None


# --- tickets --------------------------------------------------------------------------------


def _der(data: bytes, pos: int) -> tuple[int, int, int]:
    """(tag, content start, content end) of the DER element at pos."""
    tag = data[pos]
    ln = data[pos + 1]
    pos += 2
    if ln & 0x80:
        n = ln & 0x7F
        ln = int.from_bytes(data[pos:pos + n], "big")
        pos += n
    return tag, pos, pos + ln


def session_ticket(session_pem: Path) -> bytes:
    """The session ticket of a session saved by s_client -sess_out: the OCTET STRING in the
    explicit [10] field of OpenSSL's SSL_SESSION_ASN1 SEQUENCE (ssl/ssl_asn1.c)."""
    der = subprocess.run(["openssl", "sess_id", "-in", str(session_pem), "-outform", "DER"],
                         check=True, capture_output=True).stdout
    tag, start, end = _der(der, 0)
    assert tag == 0x30, "SSL_SESSION is not a SEQUENCE"
    pos = start
    while pos < end:
        tag, cs, ce = _der(der, pos)
        if tag == 0xAA:  # [10] EXPLICIT, constructed
            itag, istart, iend = _der(der, cs)
            assert itag == 0x04
            return der[istart:iend]
        pos = ce
    raise AssertionError(f"no session ticket in {session_pem}")


@dataclass
class TicketCheck:
    name_ok: bool
    hmac_ok: bool
    aes_ok: bool
    hmac_zero_key: bool  # HMAC verifies with an all-zero key instead (Apache + OpenSSL 3)

    def ok(self, hmac: str = "reference") -> bool:
        h = {
            "reference": self.hmac_ok,
            "zero": self.hmac_zero_key,
            "reference|zero": self.hmac_ok or self.hmac_zero_key,
            "skip": True,
        }[hmac]
        return self.name_ok and self.aes_ok and h


def check_ticket(ticket: bytes, key: reference.TicketKey) -> TicketCheck:
    """Check an OpenSSL-family ticket (name16 | IV16 | AES-CBC ciphertext | HMAC-SHA256 over
    all preceding bytes) against a reference key."""
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    if len(ticket) < 16 + 16 + 16 + 32 or (len(ticket) - 64) % 16:
        return TicketCheck(False, False, False, False)
    body, mac = ticket[:-32], ticket[-32:]
    name_ok = ticket[:16] == key.name
    hmac_ok = _hmac.compare_digest(_hmac.new(key.hmac, body, hashlib.sha256).digest(), mac)
    zero_ok = _hmac.compare_digest(_hmac.new(bytes(len(key.hmac)), body, hashlib.sha256).digest(), mac)
    iv, ct = ticket[16:32], ticket[32:-32]
    dec = Cipher(algorithms.AES(key.aes), modes.CBC(iv)).decryptor()
    pt = dec.update(ct) + dec.finalize()
    pad = pt[-1]
    aes_ok = 1 <= pad <= 16 and pt[-pad:] == bytes([pad]) * pad
    if aes_ok:
        # the plaintext is a DER SSL_SESSION: a SEQUENCE spanning exactly the unpadded bytes
        try:
            tag, _, end = _der(pt, 0)
            aes_ok = tag == 0x30 and end == len(pt) - pad
        except IndexError:
            aes_ok = False
    return TicketCheck(name_ok, hmac_ok, aes_ok, zero_ok)


def assert_ticket(session: Path, main: bytes, label: str, strength: str, counter: int,
                  hmac: str = "reference") -> bytes:
    """Assert that the ticket of a saved session was made with the reference key `counter`
    (name, AES and, per `hmac`: "reference" key, "zero" key (Apache + OpenSSL 3), either of the
    two ("reference|zero") or "skip")."""
    assert session is not None, "no session was saved (no ticket received?)"
    return assert_ticket_bytes(session_ticket(session), main, label, strength, counter, hmac)


def assert_ticket_bytes(t: bytes, main: bytes, label: str, strength: str, counter: int,
                        hmac: str = "reference") -> bytes:
    """assert_ticket for ticket bytes."""
    key = reference.ticket_key(main, label, strength, counter)
    c = check_ticket(t, key)
    if not c.ok(hmac):
        found = [n for n in range(counter - 8, counter + 9)
                 if t[:16] == reference.ticket_key(main, label, strength, n).name]
        raise AssertionError(
            f"ticket ({len(t)} bytes) does not match reference key {counter} ({strength}): "
            f"name {'ok' if c.name_ok else 'WRONG'} (matches counters {found}), "
            f"hmac {'ok' if c.hmac_ok else 'WRONG'} (zero key: {c.hmac_zero_key}, wanted {hmac}), "
            f"aes {'ok' if c.aes_ok else 'WRONG'}"
        )
    return t
