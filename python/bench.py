#!/usr/bin/env python3
"""Derivations per second: keywheel's binding vs a pure-Python hashlib.blake2b reference.

Both sides derive the same 16-byte TFO keys (derive_key(M, b"tofurkey", n, 16)) for the same
counters, in the same process, alternating rounds so that both see the same machine load; the
best round of each is kept. Prints both rates and their ratio (target: the binding >= 1.5x).
Also times ticket keys (label key + name + key material) the same way.

    python python/bench.py [--rounds 5] [--n 200000]
"""

import argparse
import hashlib
import time

import keywheel


def hashlib_derive(main: bytes, context: bytes, subkey_id: int, length: int) -> bytes:
    return hashlib.blake2b(
        b"", digest_size=length, key=main,
        salt=subkey_id.to_bytes(8, "little") + bytes(8), person=context + bytes(8),
    ).digest()


def hashlib_ticket_key(main: bytes, label: bytes, counter: int):
    lk = hashlib.blake2b(label, digest_size=32, key=main, person=b"keywheel.label").digest()
    name = hashlib_derive(lk, b"kwtn-256", counter, 16)
    material = hashlib_derive(lk, b"kwtk-256", counter, 64)
    return name, material[:32], material[32:]


def best_rate(fn, n: int, rounds: int) -> float:
    best = 0.0
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn(n)
        dt = time.perf_counter() - t0
        best = max(best, n / dt)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--n", type=int, default=200_000, help="derivations per round")
    args = ap.parse_args()

    raw = bytes(range(32))
    mk = keywheel.MainKey(raw)
    derive = keywheel.derive_key

    # The two sides must agree before they are timed.
    for i in (0, 1, 2**40, 2**64 - 1):
        assert derive(mk, b"tofurkey", i, 16) == hashlib_derive(raw, b"tofurkey", i, 16)
    k = keywheel.TicketKeys(mk, "www.example.com", "aes256", 3600).by_counter(472222)
    assert (k.name, k.aes_key, k.hmac_key) == hashlib_ticket_key(raw, b"www.example.com", 472222)

    def binding(n: int) -> None:
        for i in range(n):
            derive(mk, b"tofurkey", i, 16)

    def reference(n: int) -> None:
        for i in range(n):
            hashlib_derive(raw, b"tofurkey", i, 16)

    def binding_ticket(n: int) -> None:
        for i in range(n):
            keys = keywheel.TicketKeys(mk, "www.example.com", "aes256", 3600)
            t = keys.by_counter(i)
            t.name, t.aes_key, t.hmac_key

    def reference_ticket(n: int) -> None:
        for i in range(n):
            hashlib_ticket_key(raw, b"www.example.com", i)

    results = dict.fromkeys(("derive", "derive_ref", "ticket", "ticket_ref"), 0.0)
    # Alternate the sides round by round (same load for both), keep each side's best round.
    for _ in range(args.rounds):
        results["derive"] = max(results["derive"], best_rate(binding, args.n, 1))
        results["derive_ref"] = max(results["derive_ref"], best_rate(reference, args.n, 1))
        results["ticket"] = max(results["ticket"], best_rate(binding_ticket, args.n // 4, 1))
        results["ticket_ref"] = max(results["ticket_ref"], best_rate(reference_ticket, args.n // 4, 1))

    ratio = results["derive"] / results["derive_ref"]
    tratio = results["ticket"] / results["ticket_ref"]
    print(f"derive_key (16 bytes):  binding {results['derive'] / 1e6:.2f} M/s, "
          f"hashlib {results['derive_ref'] / 1e6:.2f} M/s")
    print(f"ticket key (aes256):    binding {results['ticket'] / 1e6:.2f} M/s, "
          f"hashlib {results['ticket_ref'] / 1e6:.2f} M/s (ratio {tratio:.2f}x)")
    print(f"ratio: {ratio:.2f}x (binding / hashlib derivations per second; target >= 1.5x)")


if __name__ == "__main__":
    main()
