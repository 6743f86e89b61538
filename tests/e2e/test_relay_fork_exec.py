"""`LISTEN,fork EXEC:program`: the program is handed the connection itself
(as from inetd) when the relay has nothing to do in between; with -v, -u,
-t, crnl, pty, ... the relay stays in between on a socketpair."""
import hashlib
import os
import signal
import socket
import threading

from conftest import (PYTHON, assert_clean_exit_text, children_of, free_port, tcp_exchange,
                      wait_for, wait_tcp_listening)

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
