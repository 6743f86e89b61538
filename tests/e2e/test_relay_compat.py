"""socat-compatibility checks that real users hit: dual addresses, PIPE, UDP,
crnl, ignoreeof, max-children, retry, connect-timeout, one-shot listeners,
socket file options."""
import os
import socket
import stat
import subprocess
import threading
import time

import pytest

from conftest import (children_of, free_port, wait_for, wait_tcp_listening,
                      wait_unix_listening)


def test_open_read_create_write_dual_address(vmcat, tmp):
    (tmp / "in.txt").write_text("hello dual address\n")
    (tmp / "out.txt").write_text("old content that CREATE must truncate away\n")
    r = subprocess.run([vmcat, "relay", f"OPEN:{tmp}/in.txt!!CREATE:{tmp}/out.txt",
                        "EXEC:'tr a-z A-Z'"], capture_output=True, timeout=10)
    assert (r.returncode, r.stderr) == (0, b"")
    assert (tmp / "out.txt").read_text() == "HELLO DUAL ADDRESS\n"
    assert (tmp / "in.txt").read_text() == "hello dual address\n"


def test_stdin_stdout_dual_address(vmcat):
    r = subprocess.run([vmcat, "relay", "STDIN!!STDOUT", "EXEC:rev"],
                       input=b"abc\n", capture_output=True, timeout=10)
    assert (r.returncode, r.stdout, r.stderr) == (0, b"cba\n", b"")


def test_pipe_echoes(vmcat):
    r = subprocess.run([vmcat, "relay", "-", "PIPE"], input=b"echo\x00me\n",
                       capture_output=True, timeout=10)
    assert (r.returncode, r.stdout, r.stderr) == (0, b"echo\x00me\n", b"")


def test_create_copies_stdin_to_a_file(vmcat, tmp):
    data = os.urandom(300_000)
    r = subprocess.run([vmcat, "relay", "-u", "-", f"CREATE:{tmp}/copy.bin"], input=data,
                       capture_output=True, timeout=10)
    assert (r.returncode, r.stderr) == (0, b"")
    assert (tmp / "copy.bin").read_bytes() == data


# --------------------------------------------------------------------------
# UDP

def udp_server(reply):
    """A UDP server answering each datagram with reply(data)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.settimeout(10)
    stop = threading.Event()

    def run():
        while not stop.is_set():
            try:
                data, peer = s.recvfrom(65536)
            except OSError:
                return
            s.sendto(reply(data), peer)

    th = threading.Thread(target=run, daemon=True)
    th.start()
    return s, stop


def test_udp_connect_round_trip(vmcat):
    s, stop = udp_server(lambda d: d.upper())
    try:
        port = s.getsockname()[1]
        # A datagram peer never sends EOF: -t bounds the wait for its answer.
        r = subprocess.run([vmcat, "relay", "-t", "1", "-", f"UDP:127.0.0.1:{port}"],
                           input=b"hello udp\n", capture_output=True, timeout=10)
    finally:
        stop.set()
        s.close()
    assert (r.returncode, r.stdout, r.stderr) == (0, b"HELLO UDP\n", b"")


def test_udp_connect_without_t_ends_after_stdin_eof(vmcat):
    """`echo msg | socat - UDP:host:port` returns: a datagram socket can send
    no EOF, so there is nothing to wait for after the answer."""
    s, stop = udp_server(lambda d: b"ack " + d)
    try:
        port = s.getsockname()[1]
        started = time.monotonic()
        r = subprocess.run([vmcat, "relay", "-", f"UDP:127.0.0.1:{port}"],
                           input=b"msg\n", capture_output=True, timeout=10)
        elapsed = time.monotonic() - started
    finally:
        stop.set()
        s.close()
    assert (r.returncode, r.stdout, r.stderr) == (0, b"ack msg\n", b"")
    assert elapsed < 3


def test_udp_listen_echo_keeps_datagram_boundaries(vmcat, spawn):
    port = free_port()
    relay = spawn([vmcat, "relay", f"UDP-LISTEN:{port},reuseaddr", "PIPE"])
    c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    c.settimeout(5)
    try:
        # The listener is up once it answers; resend until then.
        def first_answer():
            c.sendto(b"ping", ("127.0.0.1", port))
            try:
                return c.recvfrom(100)
            except socket.timeout:
                return None
        c.settimeout(0.2)
        data, peer = wait_for(first_answer, 10, interval=0, what="the UDP echo")
        assert data == b"ping" and peer == ("127.0.0.1", port)
        c.settimeout(5)
        for msg in (b"first datagram", b"second", b"x" * 1400):
            c.sendto(msg, ("127.0.0.1", port))
            assert c.recvfrom(2000) == (msg, ("127.0.0.1", port))
    finally:
        c.close()
    assert relay.p.poll() is None


# --------------------------------------------------------------------------
# Line endings, ignoreeof

class OneShotUnixServer:
    def __init__(self, path, send):
        self.srv = socket.socket(socket.AF_UNIX)
        self.srv.bind(str(path))
        self.srv.listen(1)
        self.srv.settimeout(10)
        self.received = None
        self.thread = threading.Thread(target=self.run, args=(send,), daemon=True)
        self.thread.start()

    def run(self, send):
        conn, _ = self.srv.accept()
        with conn:
            conn.sendall(send)
            got = b""
            while True:
                data = conn.recv(4096)
                if not data:
                    break
                got += data
            self.received = got

    def join(self):
        self.thread.join(10)
        self.srv.close()
        return self.received


@pytest.mark.parametrize("tool", ["vmcat", "socat"])
def test_crnl_converts_line_endings_both_ways(vmcat, tmp, tool):
    if tool == "socat" and subprocess.run(["which", "socat"], capture_output=True).returncode:
        pytest.skip("socat is not installed")
    path = tmp / f"crnl-{tool}.sock"
    server = OneShotUnixServer(path, b"x\r\ny\r\n")
    argv = [vmcat, "relay"] if tool == "vmcat" else ["socat"]
    # -t: the server half-closes only after our EOF; give socat time for it.
    r = subprocess.run(argv + ["-t", "2", "-", f"UNIX-CONNECT:{path},crnl"],
                       input=b"a\nb\n", capture_output=True, timeout=10)
    assert server.join() == b"a\r\nb\r\n"
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"x\ny\n"


def test_ignoreeof_follows_a_growing_file_until_idle_timeout(vmcat, tmp, spawn):
    log = tmp / "growing.log"
    log.write_bytes(b"line 1\n")
    relay = spawn([vmcat, "relay", "-u", "-T", "1", f"OPEN:{log},ignoreeof", "-"])
    out = b""

    def read_until(text):
        nonlocal out
        while text not in out:
            chunk = os.read(relay.p.stdout.fileno(), 4096)
            assert chunk, f"EOF before {text!r}; got {out!r}"
            out += chunk

    read_until(b"line 1\n")
    with open(log, "ab") as f:
        f.write(b"line 2\n")
    read_until(b"line 2\n")
    with open(log, "ab") as f:
        f.write(b"line 3\n")
    read_until(b"line 3\n")
    # No more data: -T 1 ends the relay about a second later, with status 0.
    last_data = time.monotonic()
    relay.p.wait(10)
    assert time.monotonic() - last_data < 5
    assert relay.p.returncode == 0
    assert out + relay.p.stdout.read() == b"line 1\nline 2\nline 3\n"


# --------------------------------------------------------------------------
# Listeners

def echo_client(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    return s


def roundtrip(s, msg):
    s.sendall(msg)
    got = b""
    while len(got) < len(msg):
        data = s.recv(4096)
        assert data, "connection closed"
        got += data
    return got


def test_max_children_limits_concurrent_sessions(vmcat, spawn):
    port = free_port()
    relay = spawn([vmcat, "relay", f"TCP-LISTEN:{port},fork,reuseaddr,max-children=2",
                   "EXEC:cat"])
    wait_tcp_listening(port, proc=relay.p)
    a, b = echo_client(port), echo_client(port)
    assert roundtrip(a, b"a") == b"a" and roundtrip(b, b"b") == b"b"
    # The third connection completes in the kernel's backlog, but no session
    # serves it while two are running: no third cat, no echo.
    c = echo_client(port)
    c.sendall(b"c")
    c.settimeout(0.5)
    with pytest.raises(socket.timeout):
        c.recv(10)
    assert len(children_of(relay.p.pid)) == 2
    # When one session ends, the waiting client is served.
    a.close()
    c.settimeout(10)
    assert c.recv(10) == b"c"
    assert roundtrip(c, b"cc") == b"cc"
    for s in (b, c):
        s.close()
    wait_for(lambda: children_of(relay.p.pid) == [], 10, what="the cats to exit")


def test_listen_without_fork_serves_one_connection_then_exits(vmcat, spawn):
    port = free_port()
    relay = spawn([vmcat, "relay", f"TCP-LISTEN:{port},reuseaddr", "EXEC:cat"])
    wait_tcp_listening(port, proc=relay.p)
    with echo_client(port) as s:
        assert roundtrip(s, b"only one") == b"only one"
        s.shutdown(socket.SHUT_WR)
        assert s.recv(10) == b""
    assert relay.p.wait(10) == 0
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=5).close()


def test_unix_listen_mode_and_unlink_early(vmcat, spawn, tmp):
    path = tmp / "perm.sock"
    path.write_text("stale file from an earlier run")
    relay = spawn([vmcat, "relay", f"UNIX-LISTEN:{path},mode=600,unlink-early,fork",
                   "EXEC:cat"])
    wait_unix_listening(path, proc=relay.p)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_ISSOCK(os.stat(path).st_mode)
    relay.stop()
    assert not path.exists()


def test_retry_waits_for_a_server_that_appears_late(vmcat, spawn):
    port = free_port()
    relay = spawn([vmcat, "relay", "-ddd", "-", f"TCP:127.0.0.1:{port},retry=5,interval=0.1"],
                  stdin=subprocess.PIPE)
    # Wait until vmcat has been refused at least once...
    err = b""

    def refused():
        nonlocal err
        err += os.read(relay.p.stderr.fileno(), 4096)
        return b"retrying" in err
    wait_for(refused, 5, what="a refused attempt")
    # ...then start the server.
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", port))
    srv.listen(1)
    srv.settimeout(5)
    try:
        conn, _ = srv.accept()
        with conn:
            conn.sendall(b"late but there\n")
            conn.shutdown(socket.SHUT_WR)
            rc, out, rest = relay.stop_after_input(b"")
    finally:
        srv.close()
    assert rc == 0, err + rest
    assert out == b"late but there\n"
    assert b"Connection refused" in err


def test_retry_gives_up_after_the_last_attempt(vmcat):
    port = free_port()
    started = time.monotonic()
    r = subprocess.run([vmcat, "relay", "-", f"TCP:127.0.0.1:{port},retry=3,interval=0.1"],
                       capture_output=True, timeout=10)
    elapsed = time.monotonic() - started
    assert r.returncode == 1
    assert 0.25 < elapsed < 3
    lines = r.stderr.decode().splitlines()
    assert len(lines) == 1 and "Connection refused" in lines[0], lines


def full_backlog_listener():
    """A local address that never answers a SYN: a listener with a full
    accept queue (Linux drops the SYNs). Returns it and the fillers."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(0)
    fillers = []
    for _ in range(8):
        c = socket.socket()
        c.settimeout(0.3)
        fillers.append(c)
        try:
            c.connect(srv.getsockname())
        except socket.timeout:
            return srv, fillers  # this SYN was dropped: the queue is full
    for c in fillers:
        c.close()
    srv.close()
    pytest.skip("could not fill a listener's accept queue")


def test_connect_timeout(vmcat):
    srv, fillers = full_backlog_listener()
    try:
        port = srv.getsockname()[1]
        address = f"TCP:127.0.0.1:{port},connect-timeout=0.5"
        started = time.monotonic()
        r = subprocess.run([vmcat, "relay", "-", address], capture_output=True, timeout=15)
        elapsed = time.monotonic() - started
    finally:
        for c in fillers:
            c.close()
        srv.close()
    assert r.returncode == 1
    assert 0.4 < elapsed < 3
    lines = r.stderr.decode().splitlines()
    assert len(lines) == 1, lines
    assert lines[0] == (f'vmcat: address 2 "{address}": '
                        f'connect 127.0.0.1:{port}: timed out after 0.5 s')


def test_connect_timeout_to_a_blackhole_address(vmcat):
    address = "TCP:10.255.255.1:9,connect-timeout=0.5"
    started = time.monotonic()
    r = subprocess.run([vmcat, "relay", "-", address], capture_output=True, timeout=15)
    elapsed = time.monotonic() - started
    err = r.stderr.decode()
    if "timed out" not in err:
        pytest.skip(f"the sandbox does not black-hole 10.255.255.1: {err.strip()}")
    assert r.returncode == 1
    assert 0.4 < elapsed < 3
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0] == (f'vmcat: address 2 "{address}": '
                        'connect 10.255.255.1:9: timed out after 0.5 s')


def test_connect_timeout_in_a_hybrid_vsock_handshake_names_path_and_port(vmcat, tmp):
    """A VMM socket that accepts but never answers CONNECT."""
    path = tmp / "vmm.vsock"
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(str(path))
    srv.listen(1)
    address = f"VSOCK-CONNECT:{path}:1234,connect-timeout=0.5"
    try:
        started = time.monotonic()
        r = subprocess.run([vmcat, "relay", "-", address], stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=15)
        elapsed = time.monotonic() - started
    finally:
        srv.close()
    assert r.returncode == 1
    assert 0.4 < elapsed < 3
    lines = r.stderr.splitlines()
    assert lines == [f'vmcat: address 2 "{address}": hybrid vsock {path} port 1234: '
                     'CONNECT handshake timed out after 0.5 s'], r.stderr


# --------------------------------------------------------------------------
# escape=: the byte ends the session, but what the other direction already
# has on its way is delivered first (socat prints it too).

def test_escape_delivers_what_is_already_in_flight(vmcat):
    for _ in range(20):  # the in-flight bytes must never be lost
        r = subprocess.run([vmcat, "relay", "-,escape=0x0f", "PIPE"], input=b"abcdef",
                           capture_output=True, timeout=10)
        assert (r.returncode, r.stdout, r.stderr) == (0, b"abc", b"")


def test_escape_does_not_wait_for_a_peer_that_keeps_sending(vmcat):
    # `yes` never stops: only what was readable at the escape is delivered.
    started = time.monotonic()
    r = subprocess.run([vmcat, "relay", "-,escape=0x0f", "SYSTEM:sleep 0.3; exec yes"],
                       input=b"x\x0f", capture_output=True, timeout=10)
    elapsed = time.monotonic() - started
    assert (r.returncode, r.stderr) == (0, b"")
    assert elapsed < 2
    assert r.stdout == b""  # nothing had arrived when the escape was read


def test_escape_ends_at_once_while_the_other_side_floods(vmcat):
    # The flood is under way when the escape arrives: the session still ends
    # at once, with at most what was readable then.
    p = subprocess.Popen([vmcat, "relay", "-,escape=0x0f", "SYSTEM:exec yes"],
                         stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        p.stdin.write(b"x")
        p.stdin.flush()
        time.sleep(0.5)
        started = time.monotonic()
        p.stdin.write(b"\x0f")  # stdin stays open: only the escape can end it
        p.stdin.flush()
        p.wait(5)
        elapsed = time.monotonic() - started
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        p.stdin.close()
    assert (p.returncode, p.stderr.read()) == (0, b"")
    assert elapsed < 1.5
