"""Behaviour a socat user relies on, found by running the same command lines
through socat 1.7.4 and vmcat: -u/-U with programs, programs that exit early
or fail, GOPEN and plain paths, descriptors open one way, small spellings."""
import os
import socket
import stat
import subprocess
import tarfile

from conftest import free_port, wait_for, wait_tcp_listening


def relay(vmcat, *args, input=b"", cwd=None, timeout=15):
    return subprocess.run([vmcat, "relay", *args], input=input, capture_output=True,
                          timeout=timeout, cwd=cwd)


# ----------------------------------------------------------- -u / -U programs

def test_u_program_reads_all_input_and_its_stdout_is_ours(vmcat, tmp):
    # With -u the program only gets input from the relay; its stdout is the
    # relay's own, and the relay waits for it instead of killing it at EOF.
    r = relay(vmcat, "-u", "-", "SYSTEM:cat > got; sleep 0.3; echo back", input=b"abc\n",
              cwd=tmp)
    assert (r.returncode, r.stdout, r.stderr) == (0, b"back\n", b"")
    assert (tmp / "got").read_bytes() == b"abc\n"


def test_u_tar_over_tcp_extracts_everything(vmcat, spawn, tmp):
    src = tmp / "src"
    (src / "sub").mkdir(parents=True)
    files = {"a.txt": b"alpha\n" * 1000, "sub/b.bin": os.urandom(300_000), "sub/empty": b""}
    for name, data in files.items():
        (src / name).write_bytes(data)
    dst = tmp / "dst"
    dst.mkdir()
    port = free_port()
    server = spawn([vmcat, "relay", "-u", f"TCP4-LISTEN:{port},reuseaddr",
                    f"SYSTEM:tar xf - -C {dst}"])
    wait_tcp_listening(port, proc=server.p)
    archive = tmp / "src.tar"
    with tarfile.open(archive, "w") as t:
        t.add(src, arcname="src")
    r = relay(vmcat, "-u", f"OPEN:{archive}", f"TCP:127.0.0.1:{port}")
    assert (r.returncode, r.stderr) == (0, b"")
    assert server.p.wait(15) == 0
    for name, data in files.items():
        assert (dst / "src" / name).read_bytes() == data


def test_U_program_reads_our_stdin_and_is_relayed_back(vmcat, tmp):
    r = relay(vmcat, "-U", "-", "SYSTEM:cat > got; echo back", input=b"in\n", cwd=tmp)
    assert (r.returncode, r.stdout, r.stderr) == (0, b"back\n", b"")
    assert (tmp / "got").read_bytes() == b"in\n"


# ------------------------------------------------- programs that end their way

def test_failing_program_makes_the_relay_fail_and_says_so(vmcat):
    r = relay(vmcat, "-", "EXEC:false")
    assert r.returncode == 1
    assert b'address 2 "EXEC:false": the program exited with status 1' in r.stderr
    r = relay(vmcat, "-", "SYSTEM:echo partial; exit 3")
    assert (r.returncode, r.stdout) == (1, b"partial\n")
    assert b"the program exited with status 3" in r.stderr
    r = relay(vmcat, "-", "SYSTEM:kill -KILL $$")
    assert r.returncode == 1 and b"killed by signal 9" in r.stderr


def test_program_that_ignores_its_input_still_delivers_its_output(vmcat):
    # It exits with our input unread in its socket: that is its choice, not
    # an error, and what it printed must arrive (it raced and got lost before).
    for _ in range(20):
        r = relay(vmcat, "-", "SYSTEM:echo hi", input=b"some input")
        assert (r.returncode, r.stdout, r.stderr) == (0, b"hi\n", b"")


def test_program_that_stops_reading_early_like_head(vmcat):
    r = relay(vmcat, "-", "EXEC:head -c 5", input=b"x" * 10_000_000)
    assert (r.returncode, r.stdout, r.stderr) == (0, b"xxxxx", b"")


# ------------------------------------------------------------ files and FDs

def test_gopen_appends_and_creates(vmcat, tmp):
    (tmp / "log").write_bytes(b"old-long-line\n")
    r = relay(vmcat, "-u", "-", f"GOPEN:{tmp}/log", input=b"new\n")
    assert (r.returncode, r.stderr) == (0, b"")
    assert (tmp / "log").read_bytes() == b"old-long-line\nnew\n"
    r = relay(vmcat, "-u", "-", f"GOPEN:{tmp}/fresh", input=b"first\n")
    assert (r.returncode, r.stderr) == (0, b"")
    assert (tmp / "fresh").read_bytes() == b"first\n"
    assert stat.S_IMODE((tmp / "fresh").stat().st_mode) == 0o666 & ~current_umask()


def test_a_plain_path_is_gopen(vmcat, tmp):
    for line in (b"one\n", b"two\n"):
        r = relay(vmcat, "-u", "-", "./plain.log", input=line, cwd=tmp)
        assert (r.returncode, r.stderr) == (0, b"")
    assert (tmp / "plain.log").read_bytes() == b"one\ntwo\n"


def current_umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_descriptors_are_used_the_way_they_are_open(vmcat, tmp):
    # `vmcat relay 0 1` with stdin and stdout pipes: fd 1 cannot be read and
    # fd 0 cannot be written; the relay copies 0 to 1 and ends.
    r = relay(vmcat, "0", "1", input=b"fd\n")
    assert (r.returncode, r.stdout, r.stderr) == (0, b"fd\n", b"")
    r = relay(vmcat, "1", "0", input=b"fd\n")
    assert (r.returncode, r.stdout, r.stderr) == (0, b"fd\n", b"")


def test_create_both_ways_writes_the_file(vmcat, tmp):
    # CREATE is write-only: the direction out of it ends at once, the data
    # into it is all written.
    r = relay(vmcat, "-", f"CREATE:{tmp}/out", input=b"new\n")
    assert (r.returncode, r.stdout, r.stderr) == (0, b"", b"")
    assert (tmp / "out").read_bytes() == b"new\n"


# ------------------------------------------------------------ small spellings

def test_dual_address_starting_with_a_dash(vmcat):
    r = relay(vmcat, "-!!-", "SYSTEM:tr a-z A-Z", input=b"dual\n")
    assert (r.returncode, r.stdout, r.stderr) == (0, b"DUAL\n", b"")


def test_one_way_relay_opens_only_the_half_it_uses(vmcat, tmp):
    # -u reads address 1 and writes address 2: the write half of a dual
    # address 1 (and the read half of a dual address 2) is never opened, so
    # an unused CREATE: makes no file and an unused OPEN: of a missing file
    # is no error.
    (tmp / "in").write_bytes(b"data\n")
    r = relay(vmcat, "-u", f"OPEN:{tmp}/in!!CREATE:{tmp}/unused",
              f"OPEN:{tmp}/missing!!CREATE:{tmp}/dst")
    assert (r.returncode, r.stderr) == (0, b"")
    assert (tmp / "dst").read_bytes() == b"data\n"
    assert not (tmp / "unused").exists()
    r = relay(vmcat, "-U", f"OPEN:{tmp}/missing!!CREATE:{tmp}/dst2",
              f"OPEN:{tmp}/in!!CREATE:{tmp}/unused")
    assert (r.returncode, r.stderr) == (0, b"")
    assert (tmp / "dst2").read_bytes() == b"data\n"
    assert not (tmp / "unused").exists()


def test_crlf_is_crnl(vmcat):
    for option in ("crnl", "crlf"):
        r = relay(vmcat, "-u", "-", f"STDOUT,{option}", input=b"a\nb\n")
        assert (r.returncode, r.stdout, r.stderr) == (0, b"a\r\nb\r\n", b"")


def test_exec_splits_words_on_spaces_only(vmcat):
    r = relay(vmcat, "-", "EXEC:printf [%s] a\tb c")
    assert (r.returncode, r.stdout, r.stderr) == (0, b"[a\tb][c]", b"")


# ------------------------------------------------------------- UDP-RECVFROM

def udp_ask(port, msg, want, timeout=10):
    """Sends `msg` from a fresh socket; returns the datagrams answered until
    their concatenation ends with `want`."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as c:
        c.settimeout(timeout)
        c.sendto(msg, ("127.0.0.1", port))
        got = b""
        while not got.endswith(want):
            got += c.recv(65536)
        return got


def test_udp_recvfrom_fork_is_one_datagram_per_session(vmcat, spawn):
    # Each datagram gets its own program, which reads it and then its EOF.
    port = free_port()
    server = spawn([vmcat, "relay", f"UDP4-RECVFROM:{port},fork", "SYSTEM:cat; echo done"])
    wait_for(lambda: udp_bound(port), 10, what="the UDP port to be bound")
    assert udp_ask(port, b"q1\n", b"done\n") == b"q1\ndone\n"
    assert udp_ask(port, b"q2\n", b"done\n") == b"q2\ndone\n"
    assert server.p.poll() is None


def test_udp_recvfrom_without_fork_takes_one_datagram(vmcat, spawn):
    port = free_port()
    server = spawn([vmcat, "relay", "-u", f"UDP4-RECVFROM:{port}", "STDOUT"],
                   stdout=subprocess.PIPE)
    wait_for(lambda: udp_bound(port), 10, what="the UDP port to be bound")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as c:
        c.sendto(b"first\n", ("127.0.0.1", port))
        c.sendto(b"second\n", ("127.0.0.1", port))
    assert server.p.wait(10) == 0
    assert server.p.stdout.read() == b"first\n"


def udp_bound(port):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def test_dd_says_when_the_transfer_starts(vmcat):
    r = relay(vmcat, "-d", "-d", "-", "SYSTEM:cat", input=b"x")
    assert (r.returncode, r.stdout) == (0, b"x")
    assert b"N starting data transfer loop with FDs [0,1] and [" in r.stderr
    assert b"starting data transfer" not in relay(vmcat, "-d", "-", "SYSTEM:cat").stderr


# ------------------------------------------------------ fork into one output

def test_fork_logs_every_connection_to_stdout(vmcat, spawn, tmp):
    # socat's logging one-liner: `-u TCP-LISTEN:P,fork STDOUT > log`.
    port = free_port()
    with open(tmp / "log", "wb") as log:
        server = spawn([vmcat, "relay", "-u", f"TCP4-LISTEN:{port},reuseaddr,fork", "STDOUT"],
                       stdout=log)
    wait_tcp_listening(port, proc=server.p)
    for line in (b"one\n", b"two\n"):
        r = relay(vmcat, "-u", "-", f"TCP:127.0.0.1:{port}", input=line)
        assert (r.returncode, r.stderr) == (0, b"")
    # Concurrent connections: every byte arrives, each connection's data in
    # order (chunks of different connections may interleave, as in socat).
    blobs = [bytes([65 + i]) * 200_000 for i in range(8)]
    clients = [subprocess.Popen([vmcat, "relay", "-u", "-", f"TCP:127.0.0.1:{port}"],
                                stdin=subprocess.PIPE) for _ in blobs]
    for c, blob in zip(clients, blobs):
        c.stdin.write(blob)
        c.stdin.close()
    assert [c.wait(20) for c in clients] == [0] * len(blobs)
    wait_for(lambda: (tmp / "log").stat().st_size == 8 + sum(map(len, blobs)), 10,
             what="every byte in the log")
    assert server.p.poll() is None  # one connection ending closes nothing shared
    data = (tmp / "log").read_bytes()
    assert data[:8] == b"one\ntwo\n"
    for blob in blobs:
        assert data.count(blob[:1]) == len(blob)


def test_fork_refuses_inputs_it_would_share(vmcat):
    for other in ("-", "STDIN", "PTY"):
        r = relay(vmcat, "TCP4-LISTEN:1,fork", other)
        assert r.returncode == 1
        assert b"would be read or owned by every connection" in r.stderr


# ------------------------------------------------------------------- range=

def test_range_admits_only_the_peers_it_names(vmcat, spawn):
    port = free_port()
    server = spawn([vmcat, "relay", "-d", f"TCP4-LISTEN:{port},reuseaddr,fork,"
                    "range=127.0.0.2:255.255.255.255", "SYSTEM:cat"])
    wait_tcp_listening(port, proc=server.p)
    ok = relay(vmcat, "-", f"TCP:127.0.0.1:{port},bind=127.0.0.2", input=b"inside\n")
    assert (ok.returncode, ok.stdout) == (0, b"inside\n")
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:  # from 127.0.0.1
        s.sendall(b"outside\n")
        try:
            assert s.recv(100) == b""  # closed unanswered
        except ConnectionResetError:
            pass
    ok = relay(vmcat, "-", f"TCP:127.0.0.1:{port},bind=127.0.0.2", input=b"still\n")
    assert (ok.returncode, ok.stdout) == (0, b"still\n")
    _, _, err = server.stop()
    assert b"refusing 127.0.0.1:" in err and b"not in range=127.0.0.2:255.255.255.255" in err


def test_range_errors(vmcat):
    r = relay(vmcat, "TCP-LISTEN:1,range=10.0.0.0/40", "-")
    assert r.returncode == 1 and b"the prefix length must be 0 to 32" in r.stderr
    r = relay(vmcat, "UNIX-LISTEN:/tmp/vmcat-range-test.sock,range=10.0.0.0/8", "-")
    assert r.returncode == 1 and b"range= needs an IP listener" in r.stderr
