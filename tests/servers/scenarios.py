"""Server-independent scenarios of the real-server tests.

A server module (test_nginx.py, test_apache.py, test_ats.py) provides a Kind: where
`keywheel stek` writes its keys and how to start and reload one instance. The scenarios then
run the same checks on every server; the expected key counter of every issued ticket comes
from reference.py.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import harness
import reference

T0 = 1_700_000_000  # fake unix time of the first key set (keys only; servers use real time)
INTERVAL = 3600
LABEL = "shop.example"
OTHER_LABEL = "blog.example"


class Instance(Protocol):
    port: int

    def reload(self) -> None: ...


class Kind(Protocol):
    """A server product. May also define before_write() (called before key files that running
    instances read are rewritten)."""

    name: str

    def key_out(self, keydir: Path, fmt: str) -> Path:
        """The --out argument of `keywheel stek` for fmt (file or directory) inside keydir."""

    def start(self, name: str, keys: Path, fmt: str) -> Instance:
        """Start an instance that reads keys written to `keys` (= key_out(...))."""


@dataclass
class KeySet:
    """One set of key files: main key file + label + format, rewritten at a fake time."""

    dir: Path
    main_file: Path
    main: bytes
    label: str
    fmt: str
    out: Path
    keep: int = 1
    now: int = T0

    @property
    def strength(self) -> str:
        return reference.FORMATS[self.fmt][0]

    @property
    def counter(self) -> int:
        return reference.current_counter(self.now, INTERVAL)

    def write(self, now: int | None = None, kind: "Kind | None" = None) -> None:
        if now is not None:
            self.now = now
        if kind is not None and hasattr(kind, "before_write"):
            kind.before_write()  # Traffic Server: let the mtime advance past the last load
        harness.write_keys(self.fmt, self.label, self.main_file, INTERVAL, self.keep, self.out,
                           self.now)


_seq = itertools.count()


def keyset(kind: Kind, base: Path, fmt: str, main: bytes | None = None, label: str = LABEL,
           keep: int = 1, now: int = T0) -> KeySet:
    d = base / f"keys{next(_seq)}"
    d.mkdir(parents=True)
    d.chmod(0o755)
    main_file = d / "main.key"
    m = harness.write_main_key(main_file, main)
    ks = KeySet(d, main_file, m, label, fmt, kind.key_out(d, fmt), keep, now)
    ks.write()
    return ks


class Checker:
    """Connects with s_client and checks every issued ticket against the reference."""

    def __init__(self, base: Path, hmac: str = "reference"):
        self.base = base
        self.hmac = hmac
        self.n = 0
        self.log: list[str] = []

    def connect(self, inst: Instance, tls: str, issuer: KeySet,
                sess_in: Path | None = None) -> harness.Handshake:
        """One connection to inst; every ticket it issues must be the reference key of issuer's
        current counter. Returns the handshake; h.renewed tells whether a resumed connection
        got a fresh ticket."""
        self.n += 1
        out = self.base / f"sess{self.n}.pem"
        h = harness.s_client(inst.port, tls, sess_out=out, sess_in=sess_in)
        assert h.protocol == f"TLSv{tls}", f"handshake failed or wrong version:\n{h.output[-3000:]}"
        h.renewed = False
        if tls == "1.3" and not h.reused:
            assert h.session is not None, f"no TLS 1.3 ticket received:\n{h.output[-2000:]}"
        issued = []
        if h.session is not None:  # a full handshake, or a TLS 1.3 ticket after resumption
            issued.append(harness.session_ticket(h.session))
            h.renewed = h.reused
        if tls == "1.2" and h.reused and h.printed_ticket is not None:
            # TLS 1.2 renewal: the new ticket only shows in the printed session
            if h.printed_ticket != harness.session_ticket(sess_in):
                issued.append(h.printed_ticket)
                h.renewed = True
        for t in issued:
            harness.assert_ticket_bytes(t, issuer.main, issuer.label, issuer.strength,
                                        issuer.counter, self.hmac)
        self.log.append(f"{h} (port {inst.port}){' renewed' if h.renewed else ''}")
        return h

    def new_session(self, inst: Instance, tls: str, issuer: KeySet) -> Path:
        h = self.connect(inst, tls, issuer)
        assert not h.reused
        assert h.session is not None, f"no session ticket saved:\n{h.output[-2000:]}"
        return h.session

    def resumes(self, inst: Instance, tls: str, session: Path, issuer: KeySet,
                renewed: bool = False) -> None:
        """session resumes on inst; with renewed, the server (which accepted a ticket of a
        non-current key) must also issue a fresh ticket with issuer's current key."""
        h = self.connect(inst, tls, issuer, sess_in=session)
        assert h.reused, f"expected Reused, TLSv{tls}, got {h}:\n{h.output[-2000:]}"
        if renewed:
            assert h.renewed, f"no fresh ticket after Reused, TLSv{tls}:\n{h.output[-2000:]}"

    def does_not_resume(self, inst: Instance, tls: str, session: Path, issuer: KeySet) -> None:
        h = self.connect(inst, tls, issuer, sess_in=session)
        assert not h.reused, f"expected a full handshake, got {h}"


# --- the scenarios --------------------------------------------------------------------------
# `tls` is "1.2", "1.3" or a list of both: with a list, every step runs for each version on the
# same instances (Traffic Server starts slowly, so its module shares instances that way).


def _versions(tls: str | list[str]) -> list[str]:
    return [tls] if isinstance(tls, str) else list(tls)


def shared_keys_resume(kind: Kind, base: Path, fmt: str, tls, hmac: str = "reference"):
    """Two instances sharing keywheel-written files resume each other's tickets (both ways)."""
    ks = keyset(kind, base, fmt)
    a = kind.start("a", ks.out, fmt)
    b = kind.start("b", ks.out, fmt)
    c = Checker(base, hmac)
    for v in _versions(tls):
        sa = c.new_session(a, v, ks)
        c.resumes(b, v, sa, ks)
        sb = c.new_session(b, v, ks)
        c.resumes(a, v, sb, ks)
    return c.log


def foreign_keys_rejected(kind: Kind, base: Path, fmt: str, tls, hmac: str = "reference"):
    """An instance with another main key, or another label, does not resume; its own tickets
    are the reference keys of its own main key / label."""
    ks = keyset(kind, base, fmt)
    other_main = keyset(kind, base, fmt)  # fresh random main key, same label
    other_label = keyset(kind, base, fmt, main=ks.main, label=OTHER_LABEL)
    assert other_main.main != ks.main
    a = kind.start("a", ks.out, fmt)
    m = kind.start("other-main", other_main.out, fmt)
    lbl = kind.start("other-label", other_label.out, fmt)
    c = Checker(base, hmac)
    for v in _versions(tls):
        sa = c.new_session(a, v, ks)
        c.does_not_resume(m, v, sa, other_main)
        c.does_not_resume(lbl, v, sa, other_label)
        # and the other way round
        sm = c.new_session(m, v, other_main)
        sl = c.new_session(lbl, v, other_label)
        c.does_not_resume(a, v, sm, ks)
        c.does_not_resume(a, v, sl, ks)
        c.resumes(a, v, sa, ks)  # the instance itself still resumes (the test is not vacuous)
    return c.log


def rotation_with_overlap(kind: Kind, base: Path, fmt: str, tls, hmac: str = "reference"):
    """keep = 1. Advance the fake time one interval, rewrite, reload: a ticket of the previous
    interval still resumes (and is renewed with the new current key); one more interval later it
    is outside the window and does not, while the ticket of the second interval does."""
    vs = _versions(tls)
    ks = keyset(kind, base, fmt, keep=1)
    a = kind.start("a", ks.out, fmt)
    c = Checker(base, hmac)
    s0 = {v: c.new_session(a, v, ks) for v in vs}  # key c0

    ks.write(T0 + INTERVAL, kind)  # c0 + 1 is current, c0 previous
    a.reload()
    s1 = {v: c.new_session(a, v, ks) for v in vs}  # key c0 + 1
    for v in vs:
        c.resumes(a, v, s0[v], ks, renewed=True)  # renewed with c0 + 1 (checked)

    ks.write(T0 + 2 * INTERVAL, kind)  # window c0+1 .. c0+3: c0 is out
    a.reload()
    for v in vs:
        c.does_not_resume(a, v, s0[v], ks)
        c.resumes(a, v, s1[v], ks, renewed=True)
    return c.log


def clock_skew(kind: Kind, base: Path, fmt: str, tls, hmac: str = "reference"):
    """A node whose clock is one interval ahead encrypts with our 'next' key, which we accept
    (and renew with our current key); it accepts our current key as its previous one."""
    behind = keyset(kind, base, fmt, keep=1)
    ahead = KeySet(behind.dir.parent / (behind.dir.name + "-ahead"), behind.main_file,
                   behind.main, behind.label, fmt, Path(), 1, T0 + INTERVAL)
    ahead.dir.mkdir()
    ahead.dir.chmod(0o755)
    ahead.out = kind.key_out(ahead.dir, fmt)
    ahead.write()
    a = kind.start("behind", behind.out, fmt)
    b = kind.start("ahead", ahead.out, fmt)
    c = Checker(base, hmac)
    for v in _versions(tls):
        sb = c.new_session(b, v, ahead)  # key c0 + 1
        c.resumes(a, v, sb, behind, renewed=True)  # accepted as next, renewed with c0
        sa = c.new_session(a, v, behind)  # key c0
        c.resumes(b, v, sa, ahead, renewed=True)  # accepted as previous, renewed with c0 + 1
    return c.log


def rotation_single_key(kind: Kind, base: Path, fmt: str, tls, hmac: str = "reference"):
    """Servers that hold only the current key (Apache): after a rotation, tickets of the
    previous interval no longer resume (documented behaviour); new ones use the new key."""
    vs = _versions(tls)
    ks = keyset(kind, base, fmt, keep=0)
    a = kind.start("a", ks.out, fmt)
    b = kind.start("b", ks.out, fmt)
    c = Checker(base, hmac)
    s0 = {v: c.new_session(a, v, ks) for v in vs}
    for v in vs:
        c.resumes(b, v, s0[v], ks)
    ks.write(T0 + INTERVAL, kind)
    a.reload()
    b.reload()
    for v in vs:
        c.does_not_resume(a, v, s0[v], ks)
        c.does_not_resume(b, v, s0[v], ks)
        s1 = c.new_session(a, v, ks)
        c.resumes(b, v, s1, ks)
    return c.log
