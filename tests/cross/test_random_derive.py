"""keywheel's derive_key (through the test tool `derive` of tests/vectors) against hashlib and
libsodium for random main keys, contexts, subkey ids and output lengths, including bad ones."""

import json
import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from independent import (
    DERIVE_MAX_LEN,
    DERIVE_MIN_LEN,
    MAIN_KEY_LEN,
    ZERO_KEY_MESSAGE,
    binary,
    hashlib_derive,
    libsodium,
)


class Derive:
    """A running `derive` process: one JSON request per line in, one answer per line out."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [str(binary("derive"))], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )

    def __call__(self, main: bytes, context: bytes, subkey_id: int, length: int) -> dict:
        request = {"main_key": main.hex(), "context": context.hex(),
                   "subkey_id": str(subkey_id), "output_len": length}
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        assert line, f"derive exited with status {self.proc.wait()}"
        return json.loads(line)

    def close(self) -> int:
        self.proc.stdin.close()
        return self.proc.wait(timeout=30)


@pytest.fixture(scope="module")
def derive():
    d = Derive()
    yield d
    assert d.close() == 0


lengths = st.one_of(st.integers(DERIVE_MIN_LEN, DERIVE_MAX_LEN), st.integers(0, 200))
# Valid, short, and all-zero first 32 bytes (refused: SPEC.md 1).
keys = st.one_of(st.binary(min_size=MAIN_KEY_LEN, max_size=64), st.binary(max_size=MAIN_KEY_LEN),
                 st.binary(max_size=32).map(lambda tail: bytes(MAIN_KEY_LEN) + tail))


@settings(max_examples=1000, deadline=None)
@given(main=keys, context=st.binary(min_size=8, max_size=8),
       subkey_id=st.integers(0, 2**64 - 1), length=lengths)
def test_derive_key_matches_hashlib_and_libsodium(derive, main, context, subkey_id, length):
    answer = derive(main, context, subkey_id, length)
    if len(main) < MAIN_KEY_LEN:
        assert answer["error"]["kind"] == "MainKeyTooShort"
        assert f"main key is {len(main)} bytes" in answer["error"]["message"]
        return
    if not any(main[:MAIN_KEY_LEN]):
        assert answer["error"] == {"kind": "MainKeyZero", "message": ZERO_KEY_MESSAGE}
        return
    sodium = libsodium().derive(main, context, subkey_id, length)
    if not DERIVE_MIN_LEN <= length <= DERIVE_MAX_LEN:
        assert sodium is None  # libsodium refuses the same lengths
        assert answer["error"]["kind"] == "OutputLength"
        assert f"output length {length} " in answer["error"]["message"]
        return
    expected = hashlib_derive(main, context, subkey_id, length)
    assert sodium == expected
    assert answer == {"output": expected.hex()}
