"""Volume and robustness of `vmcat relay`: bulk data both ways at once, a peer
that resets the connection mid-transfer, and no descriptor or child leak
after thousands of connections in fork mode."""
import concurrent.futures
import hashlib
import os
import signal
import socket
import subprocess
import threading
import time

import pytest

from conftest import (assert_clean_exit_text, children_of, free_port, open_fds, recv_until_eof,
                      tcp_exchange, wait_for, wait_tcp_listening, wait_unix_listening)

MIB = 1 << 20


def random_stream(total, chunk=MIB):
    sent = 0
    while sent < total:
        n = min(chunk, total - sent)
        yield os.urandom(n)
        sent += n


def send_all_hashing(sock, total):
    h = hashlib.sha256()
    for piece in random_stream(total):
        h.update(piece)
        sock.sendall(piece)
    sock.shutdown(socket.SHUT_WR)
    return h.hexdigest()


def recv_all_hashing(sock, size=MIB, after_chunk=None):
    """(sha256, byte count) of everything read until EOF, `size` bytes per
    recv; `after_chunk(total so far)` runs after each one."""
    h = hashlib.sha256()
    n = 0
    while True:
        data = sock.recv(size)
        if not data:
            return h.hexdigest(), n
        h.update(data)
        n += len(data)
        if after_chunk:
            after_chunk(n)


def test_64_mib_both_directions_at_once(vmcat, spawn, tmp):
    """A UNIX client and a TCP server each send 64 MiB while receiving the
    other's 64 MiB through UNIX-LISTEN,fork -> TCP; both arrive intact."""
    total = 64 * MIB
    tcp_port = free_port()
    server = socket.socket()
    server.bind(("127.0.0.1", tcp_port))
    server.listen(1)
    server.settimeout(20)
    path = tmp / "relay.sock"
    relay = spawn([vmcat, "relay", f"UNIX-LISTEN:{path},fork", f"TCP:127.0.0.1:{tcp_port}"])
    wait_unix_listening(path, proc=relay.p)

    results = {}

    def serve():
        conn, _ = server.accept()
        with conn:
            conn.settimeout(30)
            receiver = threading.Thread(
                target=lambda: results.__setitem__("server_got", recv_all_hashing(conn)))
            receiver.start()
            results["server_sent"] = send_all_hashing(conn, total)
            receiver.join(60)

    server_thread = threading.Thread(target=serve)
    server_thread.start()
    try:
        client = socket.socket(socket.AF_UNIX)
        client.settimeout(30)
        client.connect(str(path))
        with client:
            receiver = threading.Thread(
                target=lambda: results.__setitem__("client_got", recv_all_hashing(client)))
            receiver.start()
            results["client_sent"] = send_all_hashing(client, total)
            receiver.join(60)
        server_thread.join(60)
    finally:
        server.close()
    assert results["client_got"] == (results["server_sent"], total)
    assert results["server_got"] == (results["client_sent"], total)
    assert relay.p.poll() is None


@pytest.mark.parametrize("sink", ["tcp", "unix"])
def test_bulk_into_a_slow_reader_arrives_intact(vmcat, spawn, tmp, sink):
    """32 MiB sent at full speed through TCP-LISTEN -> TCP (bulk copying, 1 MiB
    reads) or -> UNIX (splice), to a reader that stalls now and then, so the
    relay's writes come up short and it must keep the rest: every byte
    arrives, in order."""
    total = 32 * MIB
    if sink == "tcp":
        server = socket.socket()
        server.bind(("127.0.0.1", 0))
        target = f"TCP:127.0.0.1:{server.getsockname()[1]}"
    else:
        server = socket.socket(socket.AF_UNIX)
        server.bind(str(tmp / "sink.sock"))
        target = f"UNIX-CONNECT:{tmp / 'sink.sock'}"
    server.listen(1)
    server.settimeout(20)
    port = free_port()
    relay = spawn([vmcat, "relay", f"TCP-LISTEN:{port},reuseaddr", target])
    wait_tcp_listening(port, proc=relay.p)
    results = {}

    def stall(n):
        if (n // MIB) % 4 == 0:
            time.sleep(0.002)  # stalls during every fourth MiB

    def slow_reader():
        conn, _ = server.accept()
        with conn:
            conn.settimeout(30)
            results["got"] = recv_all_hashing(conn, 256 * 1024, stall)

    reader = threading.Thread(target=slow_reader)
    reader.start()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=30) as client:
            results["sent"] = send_all_hashing(client, total)
            client.settimeout(30)
            assert client.recv(1) == b""  # the relay ends after the reader's EOF
        reader.join(60)
    finally:
        server.close()
    assert results["got"] == (results["sent"], total)
    rc, _, err = relay.stop_after_input(None, timeout=10)  # it ends by itself
    assert rc == 0, err
    assert_clean_exit_text(err.decode())


def rst_server(port, read_first):
    """Accepts one connection, reads `read_first` bytes, then resets it
    (SO_LINGER 0: close sends RST instead of FIN)."""
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", port))
    srv.listen(1)

    def run():
        conn, _ = srv.accept()
        got = 0
        while got < read_first:
            data = conn.recv(65536)
            if not data:
                break
            got += len(data)
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        conn.close()
        srv.close()

    th = threading.Thread(target=run, daemon=True)
    th.start()
    return th


def feed_forever(pipe):
    chunk = os.urandom(MIB)
    try:
        while True:
            pipe.write(chunk)
    except (BrokenPipeError, ValueError, OSError):
        pass


def test_peer_reset_mid_transfer_is_a_clean_error(vmcat, spawn):
    port = free_port()
    th = rst_server(port, read_first=256 * 1024)
    relay = spawn([vmcat, "relay", "-", f"TCP:127.0.0.1:{port}"], stdin=subprocess.PIPE)
    feeder = threading.Thread(target=feed_forever, args=(relay.p.stdin,), daemon=True)
    feeder.start()
    started = time.monotonic()
    relay.p.wait(10)
    elapsed = time.monotonic() - started
    feeder.join(5)
    err = relay.p.stderr.read()
    err = err.decode()
    assert relay.p.returncode == 1, err
    assert elapsed < 5
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert f'address 2 "TCP:127.0.0.1:{port}"' in lines[0]
    assert "Connection reset by peer" in lines[0] or "Broken pipe" in lines[0]
    assert_clean_exit_text(err)
    th.join(5)


def test_peer_reset_in_fork_mode_ends_only_that_session(vmcat, spawn):
    """A reset on one fork session is logged and the server keeps serving."""
    rst_port = free_port()
    th = rst_server(rst_port, read_first=64 * 1024)
    port = free_port()
    relay = spawn([vmcat, "relay", f"TCP-LISTEN:{port},fork,reuseaddr",
                   f"TCP:127.0.0.1:{rst_port}"])
    wait_tcp_listening(port, proc=relay.p)
    before = open_fds(relay.p.pid)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as c:
        with pytest_raises_oserror_or_eof():
            payload = os.urandom(MIB)
            for _ in range(64):
                c.sendall(payload)
            c.shutdown(socket.SHUT_WR)
            if c.recv(1) == b"":
                raise EOFError
    th.join(5)
    wait_for(lambda: open_fds(relay.p.pid) == before, 10, what="the session to end")
    assert relay.p.poll() is None, "the fork server keeps running after a reset"
    rc, _, err = relay.stop()
    assert rc == 128 + signal.SIGTERM
    err = err.decode()
    assert "Connection reset by peer" in err or "Broken pipe" in err, err
    assert_clean_exit_text(err)


class pytest_raises_oserror_or_eof:
    """The client of a reset session sees a reset, a broken pipe or an EOF."""

    def __enter__(self):
        return self

    def __exit__(self, kind, value, tb):
        assert kind is not None and issubclass(kind, (OSError, EOFError)), \
            "the client should see the session end"
        return True


def echo_once(port, payload):
    return tcp_exchange(port, payload)[1]


def settled_fd_count(pid, expected=None, timeout=10):
    """Waits for the relay's descriptor count to stop changing (sessions
    ending), or to reach `expected`."""
    last = [None, 0]

    def stable():
        n = open_fds(pid)
        if expected is not None:
            return n == expected
        if n == last[0]:
            last[1] += 1
        else:
            last[0], last[1] = n, 0
        return last[1] >= 20
    try:
        wait_for(stable, timeout, what="the relay's descriptors to settle")
    except AssertionError:
        pass  # the caller compares and reports the numbers
    return open_fds(pid)


def test_no_fd_leak_after_10000_tcp_fork_connections(vmcat, spawn, echo_server):
    echo = echo_server("tcp")
    port = free_port()
    relay = spawn([vmcat, "relay", f"TCP-LISTEN:{port},fork,reuseaddr",
                   f"TCP:127.0.0.1:{echo.address}"])
    wait_tcp_listening(port, proc=relay.p)
    before = open_fds(relay.p.pid)
    total, workers = 10_000, 4

    def worker(w):
        bad = 0
        for i in range(w, total, workers):
            payload = b"%d\n" % i
            if echo_once(port, payload) != payload:
                bad += 1
        return bad

    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        bad = sum(pool.map(worker, range(workers)))
    assert bad == 0
    after = settled_fd_count(relay.p.pid, expected=before)
    assert after == before, os.listdir(f"/proc/{relay.p.pid}/fd")
    assert relay.p.poll() is None


def test_no_fd_or_child_leak_after_500_unix_fork_exec_cat(vmcat, spawn, tmp):
    path = tmp / "cat.sock"
    relay = spawn([vmcat, "relay", f"UNIX-LISTEN:{path},fork", "EXEC:cat"])
    wait_unix_listening(path, proc=relay.p)
    before = open_fds(relay.p.pid)
    total, workers = 500, 4

    def worker(w):
        bad = 0
        for i in range(w, total, workers):
            payload = b"cat %d\n" % i
            with socket.socket(socket.AF_UNIX) as s:
                s.settimeout(10)
                s.connect(str(path))
                s.sendall(payload)
                s.shutdown(socket.SHUT_WR)
                got = recv_until_eof(s)
            bad += got != payload
        return bad

    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        bad = sum(pool.map(worker, range(workers)))
    assert bad == 0
    wait_for(lambda: children_of(relay.p.pid) == [], 10,
             what="every cat to exit and be reaped (no zombies)")
    after = settled_fd_count(relay.p.pid, expected=before)
    assert after == before, os.listdir(f"/proc/{relay.p.pid}/fd")
    rc, _, err = relay.stop()
    assert rc == 128 + signal.SIGTERM
    assert_clean_exit_text(err.decode())
    assert not path.exists(), "the listening socket file is removed at exit"
