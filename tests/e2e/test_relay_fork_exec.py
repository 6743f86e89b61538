"""`LISTEN,fork EXEC:program`: the program is handed the connection itself
(as from inetd) when the relay has nothing to do in between; with -v, -u,
-t, crnl, pty, ... the relay stays in between on a socketpair."""
import hashlib
import os
import signal
import socket
import subprocess
import threading
import time

import pytest

from conftest import (PYTHON, assert_clean_exit_text, children_of, free_port, recv_until_eof,
                      tcp_exchange, wait_for, wait_tcp_listening)

# Prints what the program's stdin is: the socket family, and for TCP the
# port of the peer (the client), then echoes one line.
PEER_SCRIPT = r'''
import os, socket, sys
s = socket.socket(fileno=os.dup(0))
try:
    peer = s.getpeername()
except OSError:
    peer = None
port = peer[1] if isinstance(peer, tuple) else "-"
blocking = "blocking" if os.get_blocking(0) else "nonblocking"
sys.stdout.write(f"{s.family.name} {port} {blocking}\n")
sys.stdout.write(sys.stdin.readline())
sys.stdout.flush()
'''


def ask(port, line=b"hello\n"):
    return tcp_exchange(port, line)


def start_peer_server(vmcat, spawn, tmp, *flags):
    script = tmp / "peer.py"
    script.write_text(PEER_SCRIPT)
    port = free_port()
    relay = spawn([vmcat, "relay", *flags, f"TCP-LISTEN:{port},reuseaddr,fork",
                   f"EXEC:{PYTHON} {script}"])
    wait_tcp_listening(port, proc=relay.p)
    return port, relay


def test_program_is_handed_the_client_connection(vmcat, spawn, tmp):
    port, relay = start_peer_server(vmcat, spawn, tmp)
    for _ in range(3):
        client_port, got = ask(port)
        # The program talks to the client itself: it sees the client's TCP
        # port, and its stdin blocks as on any socket a program is given.
        assert got == f"AF_INET6 {client_port} blocking\nhello\n".encode(), got
    wait_for(lambda: children_of(relay.p.pid) == [], 10, what="every program to be reaped")
    assert relay.p.poll() is None
    rc, _, err = relay.stop()
    assert rc == 128 + signal.SIGTERM
    assert_clean_exit_text(err.decode())


def test_with_a_data_dump_the_relay_stays_in_between(vmcat, spawn, tmp):
    port, relay = start_peer_server(vmcat, spawn, tmp, "-v")
    _, got = ask(port)
    assert got == b"AF_UNIX - blocking\nhello\n", got
    wait_for(lambda: children_of(relay.p.pid) == [], 10, what="the program to be reaped")
    _, _, err = relay.stop()
    # socat's -v format: the relay saw both directions.
    assert "> " in err.decode() and "< " in err.decode() and "hello" in err.decode(), err


def test_handed_over_cat_moves_8_mib_each_way_checksummed(vmcat, spawn):
    port = free_port()
    relay = spawn([vmcat, "relay", f"TCP-LISTEN:{port},reuseaddr,fork", "EXEC:cat"])
    wait_tcp_listening(port, proc=relay.p)
    payload = os.urandom(8 << 20)
    got = hashlib.sha256()
    received = [0]
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        def send():
            s.sendall(payload)
            s.shutdown(socket.SHUT_WR)
        t = threading.Thread(target=send)
        t.start()
        while True:
            data = s.recv(1 << 20)
            if not data:
                break
            got.update(data)
            received[0] += len(data)
        t.join()
    assert received[0] == len(payload)
    assert got.hexdigest() == hashlib.sha256(payload).hexdigest()


def test_missing_program_is_reported_and_the_server_keeps_serving(vmcat, spawn, tmp):
    port = free_port()
    relay = spawn([vmcat, "relay", f"TCP-LISTEN:{port},reuseaddr,fork",
                   "EXEC:/nonexistent/program --flag"])
    wait_tcp_listening(port, proc=relay.p)
    for _ in range(2):
        try:
            _, got = ask(port)
        except ConnectionResetError:  # closed with our line unread
            got = b""
        assert got == b""  # the connection is closed, nothing else
    assert relay.p.poll() is None, "the fork server must keep running"
    rc, _, err = relay.stop()
    text = err.decode()
    assert rc == 128 + signal.SIGTERM
    assert text.count('address 2 "EXEC:/nonexistent/program --flag": exec '
                      '"/nonexistent/program": No such file or directory') == 2, text


def test_sigint_option_forwards_the_signal_to_handed_over_programs(vmcat, spawn):
    port = free_port()
    relay = spawn([vmcat, "relay", f"TCP-LISTEN:{port},reuseaddr,fork", "EXEC:sleep 60,sigint"])
    wait_tcp_listening(port, proc=relay.p)
    clients = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(2)]
    try:
        wait_for(lambda: len(children_of(relay.p.pid)) == 2, 10, what="two programs")
        relay.p.send_signal(signal.SIGINT)
        # sleep dies of SIGINT; the server itself keeps running and reaps both.
        wait_for(lambda: children_of(relay.p.pid) == [], 10, what="both programs to end")
        for c in clients:
            c.settimeout(10)
            assert c.recv(1) == b""
        assert relay.p.poll() is None
    finally:
        for c in clients:
            c.close()
    rc, _, err = relay.stop()
    assert rc == 128 + signal.SIGTERM
    assert_clean_exit_text(err.decode())


# SOCAT_VERSION is left out: vmcat does not claim a socat version.
ENV_PROGRAM = "SYSTEM:env | grep ^SOCAT_ | grep -v -e PID= -e VERSION= | sort"


def socat_env_of(argv_prefix, listen, connect_family, where):
    """Starts `argv_prefix listen ENV_PROGRAM`, connects once, returns the
    SOCAT_* variables the program printed (ports replaced by PORT) and the
    client's own port."""
    relay = subprocess.Popen([*argv_prefix, listen, ENV_PROGRAM], stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE)
    try:
        if connect_family == socket.AF_UNIX:
            wait_for(lambda: os.path.exists(where), 10, what=f"{where}")
        else:
            wait_tcp_listening(where[1], proc=relay)
        with socket.socket(connect_family) as s:
            s.settimeout(10)
            for _ in range(100):  # the path can exist a moment before listen()
                try:
                    s.connect(where)
                    break
                except (ConnectionRefusedError, FileNotFoundError):
                    time.sleep(0.01)
            client_port = s.getsockname()[1] if connect_family != socket.AF_UNIX else None
            got = recv_until_eof(s)
    finally:
        relay.kill()
        relay.wait()
    env = dict(line.split("=", 1) for line in got.decode().splitlines())
    return env, client_port


@pytest.mark.parametrize("kind", ["tcp4-fork", "tcp4", "tcp6-fork", "unix"])
def test_program_environment_matches_socat(vmcat, tmp, kind):
    """SOCAT_PEERADDR/PEERPORT/SOCKADDR/SOCKPORT as real socat sets them, with
    the relay in between and with the connection handed over."""
    results = {}
    for who, prefix in (("socat", ["socat"]), ("vmcat", [vmcat, "relay"])):
        if kind == "unix":
            path = str(tmp / f"{who}.sock")
            listen, family, where = f"UNIX-LISTEN:{path}", socket.AF_UNIX, path
        else:
            port = free_port()
            v6 = kind.startswith("tcp6")
            listen = f"TCP{'6' if v6 else '4'}-LISTEN:{port},reuseaddr"
            if kind.endswith("fork"):
                listen += ",fork"
            family = socket.AF_INET6 if v6 else socket.AF_INET
            where = ("::1" if v6 else "127.0.0.1", port)
        env, client_port = socat_env_of(prefix, listen, family, where)
        if client_port is not None:
            assert env.pop("SOCAT_PEERPORT") == str(client_port), (who, env)
            assert env.pop("SOCAT_SOCKPORT") == str(where[1]), (who, env)
        if kind == "unix":
            assert env["SOCAT_SOCKADDR"] == where
            env["SOCAT_SOCKADDR"] = "PATH"
        results[who] = env
    assert results["vmcat"] == results["socat"]
    assert "SOCAT_PEERADDR" in results["vmcat"]
