"""Fixtures shared by the real-server tests (tests/servers/test_*.py)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness  # noqa: E402


def pytest_collection_modifyitems(config, items):
    if os.geteuid() != 0:
        skip = pytest.mark.skip(reason="real-server tests need root (apt, servers, ports)")
        for item in items:
            if item.module.__name__ not in ("test_reference", "test_cli_output"):
                item.add_marker(skip)


def pytest_report_header(config):
    try:
        w = harness.writer()
    except RuntimeError as e:
        w = f"unavailable ({e})"
    return f"keywheel stek key writer: {w} ({harness.keywheel_bin()})"


@pytest.fixture
def procs():
    """Processes started by a test; all stopped by pid at teardown."""
    started: list[harness.Proc] = []
    yield started
    for p in started:
        p.terminate()
    for p in reversed(started):
        p.stop()


@pytest.fixture(scope="session")
def workdir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("servers")
    d.chmod(0o755)  # servers that drop privileges must reach their files
    return d


_results: list[tuple[str, str]] = []


def pytest_runtest_logreport(report):
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        _results.append((report.nodeid, report.outcome))


def pytest_terminal_summary(terminalreporter):
    """One line per server test: which server, format and TLS version passed."""
    if not _results:
        return
    terminalreporter.section("real-server results")
    for nodeid, outcome in _results:
        module, _, test = nodeid.partition("::")
        server = module.removeprefix("test_").removesuffix(".py")
        terminalreporter.write_line(f"{outcome.upper():8} {server:10} {test}")
