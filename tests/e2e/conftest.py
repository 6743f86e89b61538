"""Shared fixtures for end-to-end tests that drive the real vmcat binary."""
import os
import pathlib
import shutil
import socket
import subprocess
import tempfile
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


def vmcat_path():
    return os.environ.get("VMCAT", str(ROOT / "build" / "vmcat"))


@pytest.fixture(scope="session")
def vmcat():
    path = vmcat_path()
    assert os.access(path, os.X_OK), f"vmcat binary not found at {path}; run scripts/build.sh"
    return path


@pytest.fixture
def tmp(tmp_path):
    """A short temporary directory (UNIX socket paths must stay under 108 bytes)."""
    d = tempfile.mkdtemp(prefix="vmcat-e2e-", dir="/tmp")
    yield pathlib.Path(d)
    shutil.rmtree(d, ignore_errors=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout=10.0, interval=0.01, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def wait_tcp(port, timeout=10.0):
    def ok():
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return True
        except OSError:
            return False
    wait_for(ok, timeout, what=f"TCP port {port}")


def wait_path(path, timeout=10.0):
    wait_for(lambda: os.path.exists(path), timeout, what=f"{path} to exist")


def open_fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


class Proc:
    """A background vmcat (or other) process that is always cleaned up."""

    def __init__(self, argv, **kw):
        kw.setdefault("stdin", subprocess.DEVNULL)
        kw.setdefault("stdout", subprocess.PIPE)
        kw.setdefault("stderr", subprocess.PIPE)
        self.p = subprocess.Popen(argv, **kw)

    def stop(self, sig=15, timeout=10):
        if self.p.poll() is None:
            self.p.send_signal(sig)
            try:
                self.p.wait(timeout)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        out, err = self.p.communicate()
        return self.p.returncode, out, err


@pytest.fixture
def spawn():
    procs = []

    def start(argv, **kw):
        pr = Proc(argv, **kw)
        procs.append(pr)
        return pr

    yield start
    for pr in procs:
        if pr.p.poll() is None:
            pr.p.kill()
            pr.p.wait()
