"""Forward-secure mode with real servers (docs/forward-secrecy.md): ticket keys written by
`keywheel stek --state` for nginx (files + reload) and HAProxy (its admin socket, no reload),
and, on the real clock, lighttpd (its 92-byte stek file), h2o (its YAML ticket file) and Caddy
(seeds in its stek.bin).

- Two nodes whose clocks differ by less than one interval, each with its own copy of the state
  advanced as its daemon would (to the oldest key it still installs), resume each other's
  tickets on TLS 1.2 and 1.3; every ticket issued is checked against the independent Python
  reference of forward-secure mode (tests/cross/forward_independent.py: name, HMAC, AES).
- A node given a state advanced past the current key cannot serve it: `keywheel stek` exits 1
  naming the punctured key and leaves the installed keys alone.
- A node in main-key mode does not resume forward-secure tickets (and vice versa).
- Two lighttpd (two h2o, two Caddy) nodes, each with its own copy of the state advanced to what it
  needs now, resume each other's tickets; lighttpd's and h2o's tickets are the reference's
  forward-secure key (name, AES, HMAC), Caddy's are made with the reference's forward-secure Go seed (Go's
  name and HMAC), and Caddy keeps keywheel's stek.bin as written (it does not rotate itself).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

import gotls
import harness
from test_haproxy import HaproxyInstance
from test_nginx import NginxInstance

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "cross"))
import forward_independent as fi  # noqa: E402

TLS = ["1.2", "1.3"]
INTERVAL = 3600
KEEP = 1
LABEL = "shop.example"
C0 = 1_750_000_000 // INTERVAL
TA = C0 * INTERVAL + 600          # node A (nginx): current key C0
TB = TA + 3000                    # node B (HAProxy): 50 min ahead, current key C0 + 1


@pytest.fixture(scope="module", autouse=True)
def installed():
    harness.ensure_packages(["nginx", "haproxy", "openssl"])


def kw(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(harness.keywheel_bin()), *args], capture_output=True, text=True,
                          timeout=60)


def floor(now: int) -> int:
    """The oldest second a ticket target with KEEP previous keys still needs at `now`."""
    return (now // INTERVAL - KEEP) * INTERVAL


class Seed:
    """A new seed made by `keywheel state new --write-seed` (the seed kept for the reference
    only), and per-node copies of its state advanced with `keywheel state advance`."""

    def __init__(self, d: Path):
        self.dir = d
        first = d / "first.state"
        seed_file = d / "seed"
        r = kw("state", "new", str(first), "--start", str(floor(TA) - 7200), "--write-seed",
               str(seed_file), "--allow-persistent")
        assert r.returncode == 0, r.stderr
        self.seed = seed_file.read_bytes()
        self.root_id = r.stdout.strip()
        assert self.root_id == fi.root_id(self.seed).hex()
        self.first = first

    def node_state(self, name: str, now: int) -> Path:
        p = self.dir / f"{name}.state"
        shutil.copy(self.first, p)
        p.chmod(0o600)
        r = kw("state", "advance", str(p), "--to", str(floor(now)), "--allow-persistent")
        assert r.returncode == 0, r.stderr
        assert p.read_bytes() == fi.state_file(self.seed, floor(now))
        return p

    def key(self, strength: str, counter: int):
        return fi.fs_ticket_key(self.seed, LABEL.encode(), INTERVAL, strength, counter)


def stek(fmt: str, state: Path | None, out: Path, now: int, *extra: str,
         main: Path | None = None) -> subprocess.CompletedProcess:
    """`keywheel stek --time NOW` from a state (or, with `main`, a main key)."""
    source = ["--state", str(state)] if state is not None else ["--main-key", str(main)]
    return kw("stek", "--format", fmt, "--label", LABEL, *source, "--interval", str(INTERVAL),
              "--keep", str(KEEP), "--out", str(out), "--time", str(now), "--allow-persistent",
              *extra)


_SOCKDIRS: list[Path] = []


@pytest.fixture(autouse=True)
def remove_sockdirs():
    """Set up before `procs`, so torn down after the servers stopped."""
    yield
    while _SOCKDIRS:
        shutil.rmtree(_SOCKDIRS.pop(), ignore_errors=True)


def haproxy_start(d: Path, keys: Path, cert_bundle: Path, procs: list) -> HaproxyInstance:
    # UNIX socket paths are limited to 108 bytes: keep them out of pytest's long tmp paths
    sockdir = Path(tempfile.mkdtemp(prefix="kwfs-"))
    _SOCKDIRS.append(sockdir)
    d.mkdir()
    return HaproxyInstance(d, sockdir / "admin.sock", cert_bundle, keys, procs)


@pytest.fixture(scope="module")
def nginx_cert(workdir):
    return harness.make_cert(workdir / "fs-cert")


@pytest.fixture(scope="module")
def cert_bundle(nginx_cert):
    cert, key = nginx_cert  # one certificate for both servers
    bundle = cert.parent / "bundle.pem"
    bundle.write_bytes(cert.read_bytes() + key.read_bytes())
    return bundle


def session(port: int, tls: str, out: Path, sess_in: Path | None = None) -> harness.Handshake:
    h = harness.s_client(port, tls, sess_out=out, sess_in=sess_in)
    assert h.protocol == f"TLSv{tls}", f"handshake failed:\n{h.output[-2000:]}"
    return h


def assert_ticket_of(sess: Path, key, what: str) -> None:
    check = harness.check_ticket(harness.session_ticket(sess), key)
    assert check.ok(), f"{what}: ticket is not the reference's forward-secure key: {check}"


class Node:
    """One server of `product` serving from its own copy of the state at fake time `now`
    (nginx: files + reload; HAProxy: started on the keys of `start`, then brought to `now`
    through its admin socket, no reload), or from a main key with `main`."""

    def __init__(self, product: str, base: Path, name: str, now: int, seed: Seed | None,
                 cert, bundle, procs, main: Path | None = None, start: int | None = None):
        d = base / name
        d.mkdir()
        state = seed.node_state(name, start or now) if seed is not None else None
        if product == "nginx":
            keys = d / "nginx"
            keys.mkdir()
            r = stek("nginx", state, keys, now, main=main)
            assert r.returncode == 0, r.stderr
            (d / "srv").mkdir()
            self.srv = NginxInstance(d / "srv", cert, keys, procs)
        else:
            keys = d / "haproxy.keys"
            r = stek("haproxy", state, keys, start or now, main=main)
            assert r.returncode == 0, r.stderr
            self.srv = haproxy_start(d / "srv", keys, bundle, procs)
            if start is not None and state is not None:
                r = kw("state", "advance", str(state), "--to", str(floor(now)),
                       "--allow-persistent")
                assert r.returncode == 0, r.stderr
                r = stek("haproxy", state, keys, now, "--once", "--haproxy-socket",
                         str(self.srv.sock))
                assert r.returncode == 0, r.stderr
                assert "HAProxy" in r.stderr, r.stderr
        self.keys = keys
        self.port = self.srv.port


@pytest.mark.parametrize("tls", TLS)
@pytest.mark.parametrize("product", ["nginx", "haproxy"])
def test_two_nodes_resume_each_others_tickets(tmp_path, nginx_cert, cert_bundle, procs,
                                               product, tls):
    """Node A at TA (current key C0) and node B 50 minutes ahead (current C0 + 1), each with
    its own copy of the state advanced to what it still needs. (Different products never
    resume each other's sessions, whatever the keys: README "Across products".)"""
    tmp_path.chmod(0o755)
    seed = Seed(tmp_path)
    a = Node(product, tmp_path, "a", TA, seed, nginx_cert, cert_bundle, procs)
    if product == "nginx":
        # The files are the reference's keys (current C0 first, then next, previous).
        for i, counter in enumerate([C0, C0 + 1, C0 - 1]):
            k = seed.key("aes256", counter)
            got = (a.keys / f"keys.{C0}" / f"{i}.key").read_bytes()
            assert got == k.name + k.hmac + k.aes, i  # nginx: name, HMAC, AES
    b = Node(product, tmp_path, "b", TB, seed, nginx_cert, cert_bundle, procs, start=TA)

    # A's ticket (key C0, B's previous) resumes on B; B's (key C0 + 1, A's next) on A.
    s_a = session(a.port, tls, tmp_path / "a.pem").session
    assert s_a is not None
    assert_ticket_of(s_a, seed.key("aes256", C0), f"{product} at TA")
    h = session(b.port, tls, tmp_path / "a-on-b.pem", sess_in=s_a)
    assert h.reused, f"B did not resume A's ticket: {h}\n{h.output[-1500:]}"
    s_b = session(b.port, tls, tmp_path / "b.pem").session
    assert s_b is not None
    assert_ticket_of(s_b, seed.key("aes256", C0 + 1), f"{product} at TB")
    h = session(a.port, tls, tmp_path / "b-on-a.pem", sess_in=s_b)
    assert h.reused, f"A did not resume B's ticket: {h}\n{h.output[-1500:]}"

    # A node of the same product in main-key mode resumes neither; its own ticket is not
    # resumed by the forward-secure node.
    main = tmp_path / "main.key"
    harness.write_main_key(main)
    m = Node(product, tmp_path, "m", TA, None, nginx_cert, cert_bundle, procs, main=main)
    for s, what in [(s_a, "A's"), (s_b, "B's")]:
        h = session(m.port, tls, tmp_path / "x.pem", sess_in=s)
        assert not h.reused, f"main-key node resumed {what} forward-secure ticket: {h}"
    s_m = session(m.port, tls, tmp_path / "m.pem").session
    assert s_m is not None
    h = session(a.port, tls, tmp_path / "m-on-a.pem", sess_in=s_m)
    assert not h.reused, f"forward-secure node resumed a main-key ticket: {h}"


def test_a_state_past_the_current_key_cannot_serve_it(tmp_path):
    seed = Seed(tmp_path)
    keys = tmp_path / "nginx"
    keys.mkdir()
    good = seed.node_state("good", TA)
    r = stek("nginx", good, keys, TA)
    assert r.returncode == 0, r.stderr
    before = {p.relative_to(keys): p.read_bytes() for p in keys.rglob("*") if p.is_file()}
    # A copy advanced to the next interval (a node whose clock ran ahead) at TA.
    late = tmp_path / "late.state"
    shutil.copy(seed.first, late)
    late.chmod(0o600)
    assert kw("state", "advance", str(late), "--to", str((C0 + 1) * INTERVAL),
              "--allow-persistent").returncode == 0
    r = stek("nginx", late, keys, TA)
    assert r.returncode == 1, r
    assert f"the key for counter {C0 - 1} (interval {INTERVAL}) starts at" in r.stderr, r.stderr
    assert "it was punctured" in r.stderr and "the clock is behind the state" in r.stderr, \
        r.stderr
    after = {p.relative_to(keys): p.read_bytes() for p in keys.rglob("*") if p.is_file()}
    assert after == before, "the installed keys were touched"
    # Nor a format holding the current key only (apache): nothing written.
    r = stek("apache", late, tmp_path / "apache.key", TA)
    assert r.returncode == 1 and "it was punctured" in r.stderr, r.stderr
    assert not (tmp_path / "apache.key").exists()


def test_main_key_and_state_together_are_refused(tmp_path):
    seed = Seed(tmp_path)
    main = tmp_path / "main.key"
    harness.write_main_key(main)
    out = tmp_path / "h.keys"
    r = kw("stek", "--format", "haproxy", "--label", LABEL, "--state", str(seed.first),
           "--main-key", str(main), "--out", str(out), "--once", "--allow-persistent")
    assert r.returncode == 2 and "cannot be used with" in r.stderr, r.stderr
    r = kw("stek", "--format", "haproxy", "--label", LABEL, "--state", str(seed.first),
           "--previous-main-key", str(main), "--out", str(out), "--once", "--allow-persistent")
    assert r.returncode == 2 and "--previous-state" in r.stderr, r.stderr
    r = kw("tfo", "--state", str(seed.first), "--credential", "x", "--once")
    assert r.returncode == 2 and "cannot be used with" in r.stderr, r.stderr
    assert not out.exists()


# --- lighttpd and Caddy, on the real clock ------------------------------------------------------


def settled_now() -> int:
    """Now, at least 200 s before the next boundary of INTERVAL (and so before lighttpd's early
    publication of the next key): the keys do not change while a test runs."""
    while (now := int(time.time())) % INTERVAL > INTERVAL - 200:
        time.sleep(0.5)
    return now


@pytest.fixture
def wwwbase():
    """A directory www-data can reach (lighttpd re-reads its key file after dropping
    privileges); requested before `procs`, so removed after the servers stopped."""
    d = Path(tempfile.mkdtemp(prefix="keywheel-fs-servers-"))
    d.chmod(0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.mark.parametrize("tls", TLS)
def test_lighttpd_nodes_from_a_state_resume_each_other(wwwbase, procs, tls):
    harness.ensure_packages(["lighttpd", "lighttpd-mod-openssl", "openssl"])
    from test_lighttpd import LighttpdInstance

    cert = harness.make_cert(wwwbase / "cert")
    (wwwbase / "cert").chmod(0o755)
    seed_dir = wwwbase / "seed"
    seed_dir.mkdir()
    seed = Seed(seed_dir)
    now = settled_now()
    c = now // INTERVAL
    key = seed.key("aes256", c)
    nodes = []
    for name in ("a", "b"):
        state = seed.node_state(name, now)
        out = wwwbase / f"{name}.stek"
        r = stek("lighttpd", state, out, now, "--group", "www-data")
        assert r.returncode == 0, r.stderr
        data = out.read_bytes()
        assert data[12:] == key.name + key.hmac + key.aes, "not the reference's key c"
        d = wwwbase / f"lighttpd-{name}"
        d.mkdir()
        d.chmod(0o755)
        nodes.append(LighttpdInstance(d, cert, out, procs, None))
    a, b = nodes
    s_a = session(a.port, tls, wwwbase / "a.pem").session
    assert s_a is not None
    assert_ticket_of(s_a, key, "lighttpd A")
    h = session(b.port, tls, wwwbase / "a-on-b.pem", sess_in=s_a)
    assert h.reused, f"lighttpd B did not resume A's ticket: {h}\n{h.output[-1500:]}"
    s_b = session(b.port, tls, wwwbase / "b.pem").session
    assert s_b is not None
    assert_ticket_of(s_b, key, "lighttpd B")
    h = session(a.port, tls, wwwbase / "b-on-a.pem", sess_in=s_b)
    assert h.reused, f"lighttpd A did not resume B's ticket: {h}\n{h.output[-1500:]}"
    for n in nodes:
        assert n.proc.alive(), n.proc.log_tail()


@pytest.mark.parametrize("tls", TLS)
def test_h2o_nodes_from_a_state_resume_each_other(wwwbase, procs, tls):
    harness.ensure_packages(["h2o", "openssl"])
    from test_h2o import H2oInstance, server_group

    cert = harness.make_cert(wwwbase / "cert")
    (wwwbase / "cert").chmod(0o755)
    seed_dir = wwwbase / "seed"
    seed_dir.mkdir()
    seed = Seed(seed_dir)
    now = settled_now()
    c = now // INTERVAL
    key = seed.key("aes256", c)
    nodes = []
    for name in ("a", "b"):
        state = seed.node_state(name, now)
        out = wwwbase / f"{name}.yaml"
        r = stek("h2o", state, out, now, "--group", server_group())
        assert r.returncode == 0, r.stderr
        names = [line.removeprefix("- name: ") for line in out.read_text().splitlines()
                 if line.startswith("- name: ")]
        assert names == [seed.key("aes256", n).name.hex() for n in range(c + 1, c - KEEP - 1, -1)]
        d = wwwbase / f"h2o-{name}"
        d.mkdir()
        d.chmod(0o755)
        nodes.append(H2oInstance(d, cert, out, procs))
    a, b = nodes
    for first, second, tag in [(a, b, "a"), (b, a, "b")]:
        s = session(first.port, tls, wwwbase / f"{tag}.pem").session
        assert s is not None
        assert_ticket_of(s, key, f"h2o {tag}")
        h = session(second.port, tls, wwwbase / f"{tag}-on-other.pem", sess_in=s)
        assert h.reused, f"the other h2o did not resume {tag}'s ticket: {h}\n{h.output[-1500:]}"


@pytest.mark.parametrize("tls", TLS)
def test_caddy_nodes_from_a_state_resume_each_other(tmp_path, procs, tls):
    harness.ensure_packages(["caddy", "openssl"])
    from test_caddy import Caddy

    cert = harness.make_cert(tmp_path / "cert")
    seed = Seed(tmp_path)
    now = settled_now()
    c = now // INTERVAL
    go_seed = fi.fs_go_seed(seed.seed, LABEL.encode(), INTERVAL, c)
    nodes, files = [], []
    for name in ("a", "b"):
        state = seed.node_state(name, now)
        root = tmp_path / f"{name}-root"
        r = stek("caddy", state, root, now)
        assert r.returncode == 0, r.stderr
        stek_bin = root / "stek" / "stek.bin"
        got = gotls.decode_stek(stek_bin.read_bytes())
        want = [fi.fs_go_seed(seed.seed, LABEL.encode(), INTERVAL, n)
                for n in [c, c + 1, *range(c - 1, c - KEEP - 1, -1)]]
        assert got.keys == want, "stek.bin does not hold the reference's forward-secure seeds"
        files.append((stek_bin, stek_bin.read_bytes()))
        nodes.append(Caddy(tmp_path / f"caddy-{name}", cert, SimpleNamespace(root=root), procs))
    a, b = nodes

    def connect(inst, name, sess_in=None):
        h = harness.s_client(inst.port, tls, sess_out=tmp_path / f"{name}.pem", sess_in=sess_in,
                             servername="localhost")
        assert h.protocol == f"TLSv{tls}", f"handshake failed:\n{h.output[-2000:]}"
        return h

    for first, second, tag in [(a, b, "a"), (b, a, "b")]:
        h = connect(first, tag)
        assert not h.reused and h.session is not None, h.output[-2000:]
        ticket = harness.session_ticket(h.session)
        assert gotls.go_ticket_matches(ticket, go_seed), \
            f"Caddy {tag}'s ticket is not made with the reference's forward-secure seed {c}"
        h = connect(second, f"{tag}-on-other", sess_in=h.session)
        assert h.reused, f"the other Caddy did not resume {tag}'s ticket: {h}"
    for path, data in files:
        assert path.read_bytes() == data, "Caddy rewrote keywheel's stek.bin (rotated itself)"
