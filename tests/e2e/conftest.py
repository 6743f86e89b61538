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

    def stop_after_input(self, data, timeout=10):
        """Writes `data` to stdin, closes it, and waits for the process to exit."""
        out, err = self.p.communicate(data, timeout)
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


# ---------------------------------------------------------------------------
# Helpers for the relay tests (tests/e2e/test_relay_*.py).

PYTHON = "/usr/bin/python3"


def _proc_net_listening_ports():
    """TCP ports in LISTEN state, from /proc/net/tcp and tcp6."""
    ports = set()
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(name) as f:
                next(f)
                for line in f:
                    fields = line.split()
                    if fields[3] == "0A":  # TCP_LISTEN
                        ports.add(int(fields[1].rsplit(":", 1)[1], 16))
        except FileNotFoundError:
            pass
    return ports


def wait_tcp_listening(port, timeout=10.0, proc=None):
    """Waits until something listens on TCP `port`, without connecting to it
    (a probe connection would be a session of the relay under test)."""
    def ok():
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"process exited with {proc.returncode} before listening")
        return port in _proc_net_listening_ports()
    wait_for(ok, timeout, what=f"a listener on TCP port {port}")


def wait_unix_listening(path, timeout=10.0, proc=None):
    """Waits until a UNIX stream socket at `path` is listening (not just bound)."""
    path = str(path)

    def ok():
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"process exited with {proc.returncode} before listening")
        with open("/proc/net/unix") as f:
            next(f)
            for line in f:
                fields = line.split()
                if len(fields) >= 8 and fields[7] == path and int(fields[3], 16) & 0x10000:
                    return True
        return False
    wait_for(ok, timeout, what=f"a listener on {path}")


def recv_until_eof(sock):
    """Everything `sock` receives until the peer closes its side."""
    got = b""
    while True:
        data = sock.recv(65536)
        if not data:
            return got
        got += data


def tcp_exchange(port, payload, timeout=10):
    """Connects to 127.0.0.1:`port`, sends `payload`, shuts down the sending
    side and reads until EOF. Returns (the client's own port, what came back)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(payload)
        s.shutdown(socket.SHUT_WR)
        return s.getsockname()[1], recv_until_eof(s)


def children_of(pid):
    """(pid, state) of the live or zombie children of `pid`."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        # The command name is in parentheses and may contain spaces.
        rest = stat[stat.rfind(")") + 2:].split()
        if int(rest[1]) == pid:
            out.append((int(entry), rest[0]))
    return out


def process_gone(pid):
    """True once `pid` has exited (reaped, or a zombie waiting to be).

    Reads /proc/PID/stat once: checking that it exists and then reading it
    races with the reaper."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return True
    return stat[stat.rfind(")") + 2:].split()[0] in ("Z", "X")


def assert_clean_exit_text(stderr):
    """No sanitizer report or crash trace in a vmcat's stderr."""
    for marker in ("Sanitizer", "runtime error:", "Segmentation fault", "core dumped",
                   "terminate called"):
        assert marker not in stderr, stderr


ECHO_SERVER_SRC = r'''
import os, selectors, socket, sys
kind, where = sys.argv[1], sys.argv[2]
if kind == "tcp":
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", int(where)))
else:
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(where)
srv.listen(1024)
srv.setblocking(False)
sel = selectors.DefaultSelector()
sel.register(srv, selectors.EVENT_READ)
state = {}
def update(c):
    buf, eof = state[c]
    ev = (0 if eof else selectors.EVENT_READ) | (selectors.EVENT_WRITE if buf else 0)
    if ev == 0:
        sel.unregister(c); del state[c]
        try: c.shutdown(socket.SHUT_WR)
        except OSError: pass
        c.close()
    else:
        sel.modify(c, ev)
print("ready", flush=True)
while True:
    for key, ev in sel.select():
        s = key.fileobj
        if s is srv:
            while True:
                try: c, _ = srv.accept()
                except BlockingIOError: break
                c.setblocking(False)
                state[c] = [bytearray(), False]
                sel.register(c, selectors.EVENT_READ)
            continue
        st = state[s]
        try:
            if ev & selectors.EVENT_READ:
                data = s.recv(262144)
                if data: st[0] += data
                else: st[1] = True
            if st[0]:
                try:
                    n = s.send(st[0]); del st[0][:n]
                except BlockingIOError: pass
        except OSError:
            st[0].clear(); st[1] = True
        update(s)
'''


class EchoServer:
    """An echo server in its own process (so that it does not compete with the
    test's clients for the GIL): echoes each connection's bytes and closes
    after the client's EOF. `address` is a TCP port or a UNIX socket path."""

    def __init__(self, kind, tmpdir):
        self.kind = kind
        self.address = free_port() if kind == "tcp" else str(tmpdir / "echo.sock")
        self.p = subprocess.Popen([PYTHON, "-c", ECHO_SERVER_SRC, kind, str(self.address)],
                                  stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
        line = self.p.stdout.readline()
        assert line == b"ready\n", f"echo server failed to start: {line!r}"

    def stop(self):
        if self.p.poll() is None:
            self.p.kill()
        self.p.wait()
        self.p.stdout.close()


@pytest.fixture
def echo_server(tmp):
    servers = []

    def start(kind="tcp"):
        s = EchoServer(kind, tmp)
        servers.append(s)
        return s

    yield start
    for s in servers:
        s.stop()


class Qemu:
    """A headless QEMU without a guest (it sits in the BIOS), whose monitor
    (and optionally serial port) are UNIX sockets in `dir`."""

    def __init__(self, dir, extra=(), serial=False):
        self.dir = pathlib.Path(dir)
        self.monitor = self.dir / "monitor.sock"
        self.serial = self.dir / "serial.sock" if serial else None
        argv = ["qemu-system-x86_64", "-accel", "tcg", "-display", "none", "-nodefaults",
                "-m", "64", "-monitor", f"unix:{self.monitor},server=on,wait=off"]
        if serial:
            argv += ["-serial", f"unix:{self.serial},server=on,wait=off"]
        argv += list(extra)
        self.log = open(self.dir / "qemu.log", "wb")
        self.p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self.log,
                                  stderr=subprocess.STDOUT)
        wait_unix_listening(self.monitor, timeout=20, proc=self.p)
        if serial:
            wait_unix_listening(self.serial, timeout=20, proc=self.p)

    def stop(self):
        if self.p.poll() is None:
            self.p.terminate()
            try:
                self.p.wait(10)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        self.log.close()


@pytest.fixture
def qemu(tmp):
    if shutil.which("qemu-system-x86_64") is None:
        pytest.skip("qemu-system-x86_64 is not installed")
    started = []

    def start(extra=(), serial=False):
        q = Qemu(tmp, extra, serial)
        started.append(q)
        return q

    yield start
    for q in started:
        q.stop()


class Tmux:
    """A private tmux server (its own socket) with one pane: a real terminal."""

    def __init__(self, dir, command, width=160, height=48):
        self.socket = str(pathlib.Path(dir) / "tmux.sock")
        self.run("-f", "/dev/null", "new-session", "-d", "-s", "t", "-x", str(width),
                 "-y", str(height), command)

    def run(self, *args, check=True):
        return subprocess.run(["tmux", "-S", self.socket, *args], check=check,
                              capture_output=True, text=True, timeout=10)

    def send(self, *keys, literal=False):
        self.run("send-keys", "-t", "t", *(("-l",) if literal else ()), *keys)

    def screen(self):
        return self.run("capture-pane", "-p", "-J", "-t", "t", "-S", "-200").stdout

    def wait_screen(self, text, timeout=10.0):
        return wait_for(lambda: text in self.screen(), timeout,
                        what=f"{text!r} in the tmux pane")

    def pane_tty(self):
        return self.run("display-message", "-p", "-t", "t", "#{pane_tty}").stdout.strip()

    def pane_pid(self):
        return int(self.run("display-message", "-p", "-t", "t", "#{pane_pid}").stdout)

    def kill(self):
        self.run("kill-server", check=False)


@pytest.fixture
def tmux(tmp):
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed")
    sessions = []

    def start(command, **kw):
        t = Tmux(tmp, command, **kw)
        sessions.append(t)
        return t

    yield start
    for t in sessions:
        t.kill()
