"""Go crypto/tls (Debian 12: golang-go 1.19) with keywheel's `go` format: the example server
examples/go (standard library only, built offline here with `GOPROXY=off go build`) reads the
raw seed file (SPEC.md section 4.5: current, next, previous 1..keep, 32 bytes each) and calls
Config.SetSessionTicketKeys; it re-reads the file when it changes.

Go 1.19 puts the key name SHA-512(seed)[0:16] in clear at the start of every ticket: each
ticket is checked against the reference seed of the expected counter (name and HMAC).

Without the CLI (to develop the tests): KEYWHEEL_STEK_WRITER=reference.
"""

from __future__ import annotations

import json
import os
import subprocess
import base64
import time
from pathlib import Path

import pytest

import gotls
import harness
import reference

TLS = ["1.2", "1.3"]
LABEL = "go-cluster"
INTERVAL = 3600
KEEP = 1


@pytest.fixture(scope="module", autouse=True)
def installed():
    harness.ensure_packages(["golang-go", "openssl"])


@pytest.fixture(scope="module")
def goserver(workdir) -> Path:
    return gotls.build_goserver(workdir)


@pytest.fixture(scope="module")
def cert(workdir):
    return harness.make_cert(workdir / "go-cert")


class Seeds:
    def __init__(self, base: Path, name: str, main: bytes | None = None, label: str = LABEL):
        self.dir = base / name
        self.dir.mkdir(parents=True)
        self.main_file = self.dir / "main.key"
        self.main = harness.write_main_key(self.main_file, main)
        self.label = label
        self.file = self.dir / "seeds"
        self.now = 0

    def write(self, now: int | None = None) -> None:
        self.now = int(time.time()) if now is None else now
        gotls.write("go", self.label, self.main_file, INTERVAL, KEEP, self.file, self.now)
        want = reference.go_window(self.main, self.label, self.now, INTERVAL, KEEP)
        assert self.file.read_bytes() == b"".join(want), "seed file is not the reference seeds"

    @property
    def counter(self) -> int:
        return reference.current_counter(self.now, INTERVAL)


class GoServer:
    def __init__(self, binary: Path, d: Path, cert, seeds: Seeds, procs: list):
        d.mkdir(parents=True)
        self.dir, self.seeds = d, seeds
        self.port = harness.free_port()
        self.log = d / "goserver.log"
        self.proc = harness.start(f"goserver {d.name}", [
            str(binary), "-listen", f"{harness.HOST}:{self.port}", "-cert", str(cert[0]),
            "-key", str(cert[1]), "-seeds", str(seeds.file), "-poll", "200ms"], self.log)
        procs.append(self.proc)
        harness.wait_for_port(self.port, self.proc)

    def loads(self) -> int:
        return self.log.read_text().count("session-ticket seeds loaded")


def connect(base: Path, inst: GoServer, tls: str, sess_in: Path | None = None,
            n=iter(range(10**6))) -> harness.Handshake:
    h = harness.s_client(inst.port, tls, sess_out=base / f"sess{next(n)}.pem", sess_in=sess_in)
    assert h.protocol == f"TLSv{tls}", f"handshake failed:\n{h.output[-2000:]}"
    return h


def new_session(base: Path, inst: GoServer, tls: str, counter: int) -> Path:
    h = connect(base, inst, tls)
    assert not h.reused and h.session is not None, f"no ticket:\n{h.output[-2000:]}"
    gotls.assert_go_ticket(harness.session_ticket(h.session), inst.seeds.main,
                           inst.seeds.label, counter)
    return h.session


@pytest.mark.parametrize("tls", TLS)
def test_two_servers_resume_each_other(tmp_path, goserver, cert, procs, tls):
    main = os.urandom(32)
    sa, sb = Seeds(tmp_path, "a", main), Seeds(tmp_path, "b", main)
    sa.write()
    sb.write(sa.now)
    a = GoServer(goserver, tmp_path / "go-a", cert, sa, procs)
    b = GoServer(goserver, tmp_path / "go-b", cert, sb, procs)
    for first, second in [(a, b), (b, a)]:
        s = new_session(tmp_path, first, tls, sa.counter)  # name = SHA-512(seed_c)[0:16]
        h = connect(tmp_path, second, tls, sess_in=s)
        assert h.reused, f"{first.dir.name}'s ticket not resumed by {second.dir.name}: {h}"


@pytest.mark.parametrize("tls", TLS)
def test_a_seed_of_another_label_does_not_resume(tmp_path, goserver, cert, procs, tls):
    main = os.urandom(32)
    sa, sb = Seeds(tmp_path, "a", main), Seeds(tmp_path, "b", main, label="another-label")
    sa.write()
    sb.write(sa.now)
    a = GoServer(goserver, tmp_path / "go-a", cert, sa, procs)
    b = GoServer(goserver, tmp_path / "go-b", cert, sb, procs)
    s = new_session(tmp_path, a, tls, sa.counter)
    h = connect(tmp_path, b, tls, sess_in=s)
    assert not h.reused, "a ticket resumed under another label"


@pytest.mark.parametrize("tls", TLS)
def test_rotation_is_picked_up_and_keeps_previous_tickets(tmp_path, goserver, cert, procs, tls):
    """The server re-reads the rewritten file: new tickets use the next counter, tickets of
    the previous interval still resume (keep 1), older ones do not."""
    seeds = Seeds(tmp_path, "k")
    t0 = int(time.time())
    seeds.write(t0)
    inst = GoServer(goserver, tmp_path / "go", cert, seeds, procs)
    c = seeds.counter
    old = new_session(tmp_path, inst, tls, c)
    for step, resumes in [(1, True), (2, False)]:
        loads = inst.loads()
        seeds.write(t0 + step * INTERVAL)
        harness.wait_until(lambda: inst.loads() > loads, 10, "the server to re-read the seeds")
        new_session(tmp_path, inst, tls, c + step)
        h = connect(tmp_path, inst, tls, sess_in=old)
        assert h.reused == resumes, f"after {step} rotation(s): {h}"


def test_a_bad_seed_file_keeps_the_keys_in_use(tmp_path, goserver, cert, procs):
    seeds = Seeds(tmp_path, "k")
    seeds.write()
    inst = GoServer(goserver, tmp_path / "go", cert, seeds, procs)
    s = new_session(tmp_path, inst, "1.2", seeds.counter)
    tmp = seeds.file.with_name("seeds.tmp")
    tmp.write_bytes(b"\0" * 33)  # not a whole number of seeds
    os.replace(tmp, seeds.file)
    harness.wait_until(lambda: "must be 1..=60480 seeds of 32 bytes" in inst.log.read_text(), 10,
                       "the server to report the bad file")
    assert connect(tmp_path, inst, "1.2", sess_in=s).reused
    new_session(tmp_path, inst, "1.2", seeds.counter)


def test_json_form_matches_the_reference(tmp_path):
    """`--format go-json`: SPEC 4.5's JSON (base64 seeds in Go's order) for tooling."""
    seeds = Seeds(tmp_path, "k")
    out = tmp_path / "seeds.json"
    now = int(time.time())
    gotls.write("go-json", LABEL, seeds.main_file, INTERVAL, KEEP, out, now)
    got = json.loads(out.read_text())
    assert got == gotls.go_json(seeds.main, LABEL, now, INTERVAL, KEEP)
    assert [base64.b64decode(s) for s in got["seeds"]] == reference.go_window(
        seeds.main, LABEL, now, INTERVAL, KEEP)


def test_the_example_is_gofmt_and_vet_clean(workdir):
    d = harness.REPO_ROOT / "examples" / "go"
    r = subprocess.run(["gofmt", "-l", "."], cwd=d, capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout == "", f"gofmt would change: {r.stdout}{r.stderr}"
    env = dict(os.environ, GOPROXY="off", GOCACHE=str(workdir / "gocache"))
    r = subprocess.run(["go", "vet", "."], cwd=d, capture_output=True, text=True, env=env,
                       timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
