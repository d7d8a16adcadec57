"""Every case of the go_seeds section of tests/vectors/keywheel.json recomputed without keywheel
(SPEC.md section 4.5): seed(n) = derive_key(LK, "kwts-g32", n, 32) from hashlib.blake2b and
libsodium, the window in Go's order (current, next, previous 1 ... keep) from the schedule of
SPEC.md section 4.3, and Go's key name SHA-512(seed)[0:16] from hashlib.sha512."""

import hashlib

import pytest

from independent import derive_both, label_key, load_vectors, ticket_slot
from test_ticket_vectors_independent import counter, label, main_key

VECTORS = load_vectors()
CASES = VECTORS["go_seeds"]["cases"]
GO_SEED_CONTEXT = b"kwts-g32"


def go_seed(main: bytes, lbl: bytes, n: int) -> bytes:
    return derive_both(label_key(main, lbl), GO_SEED_CONTEXT, n, 32)


def test_the_section_is_there():
    assert len(CASES) >= 8
    assert "kwts-g32" in VECTORS["go_seeds"]["comment"]


@pytest.mark.parametrize("case", CASES, ids=[str(i) for i in range(len(CASES))])
def test_go_seeds(case):
    main, lbl = main_key(case), label(case)
    interval, keep, now = case["interval"], case["keep"], case["time"]
    slot = ticket_slot(interval, keep, now)
    assert counter(case, "current") == slot.current
    assert case["next_rotation"] == slot.next_rotation
    c = slot.current
    want = [(c, "current", None), (c + 1, "next", None)]
    want += [(c - age, "previous", age) for age in range(1, keep + 1)]
    got = [(counter(e), e["role"], e.get("age")) for e in case["seeds"]]
    assert got == want
    output = b""
    for e in case["seeds"]:
        seed = go_seed(main, lbl, counter(e))
        assert e["seed"] == seed.hex()
        assert e["go_name"] == hashlib.sha512(seed).digest()[:16].hex()
        output += seed
    assert case["output"] == output.hex()


def test_spec_example():
    """SPEC.md 4.5's example: main key bytes 0..31, label "web", counter 19675."""
    assert go_seed(bytes(range(32)), b"web", 19675).hex() == \
        "f84f992475bcb7d72963db6da1b4e096a26e67cc7c4731f81cd6aae21ad48839"
