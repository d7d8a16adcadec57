"""The forward-secure C API from C (state_test.c): the shared fs_* vectors and every bad input,
plain, under ASan+UBSan and under valgrind. Expected values come from the vectors, which
tests/cross/test_forward_independent.py checks against an independent hashlib implementation."""

import os
import re
import shutil
import sys

import pytest

from conftest import C11, INCLUDES, ROOT, RUST_LIBS, SANITIZE, run
import vectors_to_lines

VALGRIND = ["valgrind", "-q", "--error-exitcode=99", "--leak-check=full",
            "--show-leak-kinds=definite,indirect,possible",
            "--errors-for-leak-kinds=definite,indirect,possible"]
SAN_ENV = {"ASAN_OPTIONS": "detect_leaks=1:halt_on_error=1",
           "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1"}


@pytest.fixture(scope="module")
def state_build(build, tmp_path_factory):
    out = tmp_path_factory.mktemp("state")
    release_lib = build.staticlib.parent.parent / "release" / "libkeywheel.a"
    src = [ROOT / "ffi/tests/c/state_test.c"]

    def cc(name, extra=(), lib=build.staticlib):
        exe = out / name
        run([*C11, *extra, *INCLUDES, *src, "-o", exe, lib, *RUST_LIBS])
        return exe

    vectors = out / "fs_vectors.txt"
    with open(vectors, "w", encoding="utf-8") as f:
        saved, sys.stdout = sys.stdout, f
        try:
            vectors_to_lines.forward_lines(str(ROOT / "tests/vectors/keywheel.json"))
        finally:
            sys.stdout = saved
    return {"plain": cc("state_test"), "asan": cc("state_test_asan", SANITIZE),
            "release": cc("state_test_release", lib=release_lib), "vectors": vectors}


def check_output(p):
    assert p.returncode == 0, p.stdout + p.stderr
    assert re.search(r"^\d+ passed, 0 failed$", p.stdout, re.M), p.stdout
    m = re.search(r"^(\d+) vector lines$", p.stdout, re.M)
    assert m and int(m.group(1)) >= 100, p.stdout


def test_state_api(state_build, tmp_path):
    check_output(run([state_build["plain"], state_build["vectors"], tmp_path],
                     capture_output=True, text=True, check=False))


def test_state_api_under_asan_and_ubsan(state_build, tmp_path):
    p = run([state_build["asan"], state_build["vectors"], tmp_path], capture_output=True,
            text=True, check=False, env={**os.environ, **SAN_ENV})
    assert "Sanitizer" not in p.stderr and "runtime error" not in p.stderr, p.stderr
    check_output(p)


def test_state_api_under_valgrind(state_build, tmp_path):
    if shutil.which("valgrind") is None:
        pytest.fail("valgrind is not installed (apt-get install valgrind)")
    p = run([*VALGRIND, state_build["release"], state_build["vectors"], tmp_path],
            capture_output=True, text=True, check=False)
    assert p.returncode == 0, p.stdout + p.stderr
    check_output(p)


def test_every_fs_section_is_used(state_build):
    kinds = {line.split(" ", 1)[0] for line in state_build["vectors"].read_text().splitlines()}
    assert kinds == {"fs_state", "fs_ticket_key", "fs_ticket_keys", "fs_ticket_keys_error",
                     "fs_tfo", "fs_advance", "fs_advance_error", "fs_file_error",
                     "fs_new_error", "fs_ticket_key_error", "fs_go_seed", "fs_go_seed_error",
                     "fs_go_seeds_error", "go_seed"}
