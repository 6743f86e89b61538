"""The seeds' vsock command lines, run by vmcat inside a real guest (vsock
loopback, CID 1: the host machine's own vsock is never touched)."""
import pytest

from vmlib import VmRunner, build_image

pytestmark = pytest.mark.vm


@pytest.fixture(scope="module")
def vms(vmcat):
    runner = VmRunner(vmcat, build_image())
    runner.up("vs", "--mem", "256M", agent=True)
    assert runner.run("wait", "vs", "--timeout", "60").returncode == 0
    yield runner
    runner.cleanup()


def gsh(vms, script, timeout=60):
    return vms.run("exec", "vs", "--", "sh", "-c", script, timeout=timeout)


def test_vsock_listen_fork_exec_pty_shell(vms):
    # Seed 002's guest-side server (busybox has sh, not bash), and a client
    # that sends a command and reads the answer over vsock.
    r = gsh(vms, """
vmcat relay VSOCK-LISTEN:1234,reuseaddr,fork EXEC:sh,pty,stderr,setsid,sigint,sane,ctty,echo=0 &
server=$!
sleep 0.5
printf 'echo answer-$((6*7)); tty; exit\\n' | vmcat relay - VSOCK-CONNECT:1:1234
printf 'echo second-$((2+2)); exit\\n' | vmcat relay - VSOCK-CONNECT:1:1234
kill $server
""")
    assert r.returncode == 0, r.stderr
    assert "answer-42" in r.stdout
    assert "/dev/pts/" in r.stdout
    assert "second-4" in r.stdout  # fork: a second connection is served too


def test_vsock_to_tcp_bridge(vms):
    # Seed 001: VSOCK-LISTEN:22,reuseaddr,fork TCP:localhost:22, with an echo
    # service standing in for sshd.
    r = gsh(vms, """
vmcat relay TCP-LISTEN:2222,reuseaddr,fork EXEC:cat &
echo_server=$!
vmcat relay VSOCK-LISTEN:22,reuseaddr,fork TCP:localhost:2222 &
bridge=$!
sleep 0.5
head -c 1000000 /dev/urandom > /tmp/blob
vmcat relay -u OPEN:/tmp/blob VSOCK-CONNECT:1:22 > /dev/null
vmcat relay OPEN:/tmp/blob!!CREATE:/tmp/back VSOCK-CONNECT:1:22
kill $bridge $echo_server
cmp /tmp/blob /tmp/back && echo same
""")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().endswith("same")


def test_vsock_connect_refused_is_clear(vms):
    r = gsh(vms, "vmcat relay - VSOCK-CONNECT:1:4444 </dev/null; echo status=$?")
    assert "status=1" in r.stdout
    assert 'address 2 "VSOCK-CONNECT:1:4444": connect vsock:1:4444:' in r.stderr
