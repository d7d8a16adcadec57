"""Builds what the C tests need, once per run: libkeywheel (cargo), the C programs (plain,
ASan+UBSan, C++), a certificate, the vectors as lines. Everything goes to a temporary
directory; nothing is written into the checkout."""

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(Path(__file__).resolve().parent))
import vectors_to_lines  # noqa: E402

WARNINGS = ["-Wall", "-Wextra", "-Werror", "-pedantic"]
C11 = ["gcc", "-std=c11", *WARNINGS, "-g"]
CXX = ["g++", "-x", "c++", "-std=c++17", *WARNINGS, "-g"]
SANITIZE = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer"]
# What a Rust staticlib needs (`cargo rustc -- --print native-static-libs`).
RUST_LIBS = ["-lgcc_s", "-lutil", "-lrt", "-lpthread", "-lm", "-ldl", "-lc"]
INCLUDES = ["-I", str(ROOT / "include"), "-I", str(ROOT / "ffi/openssl")]
OPENSSL_GLUE = str(ROOT / "ffi/openssl/keywheel_openssl.c")


def run(cmd, **kw):
    kw.setdefault("check", True)
    kw.setdefault("timeout", 600)
    return subprocess.run([str(c) for c in cmd], **kw)


@dataclass
class Build:
    dir: Path
    staticlib: Path
    api_test: Path
    api_test_asan: Path
    api_test_release: Path
    fuzz_api_asan: Path
    fuzz_api_release: Path
    server: Path
    server_cxx: Path
    server_asan: Path
    server_release: Path
    ticket_tool: Path
    cert: Path
    key: Path
    vectors: Path


def target_dir():
    meta = run(["cargo", "metadata", "--format-version", "1", "--no-deps"], cwd=ROOT,
               capture_output=True, text=True).stdout
    return Path(json.loads(meta)["target_directory"])


@pytest.fixture(scope="session")
def build(tmp_path_factory):
    for tool in ("gcc", "g++", "openssl", "cargo"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is not installed (see ffi/README.md for the packages)")
    out = tmp_path_factory.mktemp("build")
    # Debug (overflow checks, debug assertions) for the plain and ASan builds; release for
    # valgrind, which is ~50 times slower on unoptimised code.
    run(["cargo", "build", "-q", "-p", "keywheel-ffi"], cwd=ROOT)
    run(["cargo", "build", "-q", "--release", "-p", "keywheel-ffi"], cwd=ROOT)
    staticlib = target_dir() / "debug" / "libkeywheel.a"
    release_lib = target_dir() / "release" / "libkeywheel.a"

    def cc(compiler, sources, name, extra=(), lib=staticlib):
        exe = out / name
        run([*compiler, *extra, *INCLUDES, *sources, "-o", exe, lib, "-lssl", "-lcrypto",
             *RUST_LIBS])
        return exe

    api = [ROOT / "ffi/tests/c/api_test.c"]
    fuzz = [ROOT / "ffi/tests/c/fuzz_api.c"]
    server = [ROOT / "examples/c/server.c", OPENSSL_GLUE]
    b = Build(
        dir=out,
        staticlib=staticlib,
        api_test=cc(C11, api, "api_test"),
        api_test_asan=cc(C11, api, "api_test_asan", SANITIZE),
        api_test_release=cc(C11, api, "api_test_release", lib=release_lib),
        fuzz_api_asan=cc(C11, fuzz, "fuzz_api_asan", SANITIZE),
        fuzz_api_release=cc(C11, fuzz, "fuzz_api_release", ["-O2"], lib=release_lib),
        server=cc(C11, server, "server"),
        server_cxx=cc(CXX, server, "server_cxx"),
        server_asan=cc(C11, server, "server_asan", SANITIZE),
        server_release=cc(C11, server, "server_release", lib=release_lib),
        ticket_tool=cc(C11, [ROOT / "ffi/tests/c/ticket_tool.c"], "ticket_tool"),
        cert=out / "cert.pem",
        key=out / "key.pem",
        vectors=out / "vectors.txt",
    )
    run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-keyout", b.key, "-out", b.cert, "-subj", "/CN=localhost", "-days", "2"],
        capture_output=True)
    with open(b.vectors, "w", encoding="utf-8") as f:
        saved, sys.stdout = sys.stdout, f
        try:
            vectors_to_lines.main(str(ROOT / "tests/vectors/keywheel.json"))
        finally:
            sys.stdout = saved
    return b
