#!/usr/bin/python3
"""Boots the vmcat test guest under QEMU (TCG) and checks that it works.

Usage: images/smoke-test.py [--image DIR] [--boots N] [-v]

Checks: time to the "vmcat-guest: ready" banner (median of --boots boots),
console shell (tty, job control, Ctrl-C, exit -> fresh shell), id, hostname,
/dev/virtio-ports/org.vmcat.agent.0 and data through it to the host socket,
eth0 address, routes, DNS config, an httpd in the guest reachable through a
QEMU hostfwd, /dev/vsock (and vsock loopback if /usr/bin/vmcat is in the
image), and that both "poweroff" and QMP system_powerdown make QEMU exit.
Standard library only.
"""

import argparse
import json
import os
import re
import select
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

BANNER = b"vmcat-guest: ready"
PROMPT = b"guest# "
VERBOSE = False


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Guest:
    def __init__(self, image, tmp, append="", hostfwd_port=None):
        self.tmp = tmp
        self.agent_sock = os.path.join(tmp, "ag.sock")
        self.qmp_sock = os.path.join(tmp, "qmp.sock")
        self.port = hostfwd_port or free_port()
        self.cmd = [
            "qemu-system-x86_64", "-accel", "tcg", "-m", "256", "-smp", "1",
            "-nodefaults", "-no-user-config", "-display", "none",
            "-kernel", os.path.join(image, "vmlinuz"),
            "-initrd", os.path.join(image, "initramfs.cpio.gz"),
            "-append", ("console=ttyS0 quiet panic=-1 " + append).strip(),
            "-serial", "stdio", "-no-reboot",
            "-netdev", f"user,id=n0,hostfwd=tcp:127.0.0.1:{self.port}-:8080",
            "-device", "virtio-net-pci,netdev=n0",
            "-device", "virtio-serial-pci",
            "-chardev", f"socket,id=ag,path={self.agent_sock},server=on,wait=off",
            "-device", "virtserialport,chardev=ag,name=org.vmcat.agent.0",
            "-qmp", f"unix:{self.qmp_sock},server=on,wait=off",
        ]
        self.buf = b""
        self.t0 = time.monotonic()
        self.proc = subprocess.Popen(self.cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        os.set_blocking(self.proc.stdout.fileno(), False)

    def _read(self, timeout):
        r, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not r:
            return False
        data = self.proc.stdout.read()
        if not data:
            return None
        if VERBOSE:
            sys.stderr.write(data.decode(errors="replace"))
            sys.stderr.flush()
        self.buf += data
        return True

    def expect(self, pattern, timeout=30):
        """Waits for a regex (bytes) in the console output; consumes up to its end."""
        rx = re.compile(pattern, re.S)
        deadline = time.monotonic() + timeout
        while True:
            m = rx.search(self.buf)
            if m:
                out = self.buf[:m.end()]
                self.buf = self.buf[m.end():]
                return out, m
            left = deadline - time.monotonic()
            if left <= 0 or self._read(left) is None:
                raise TimeoutError(f"waiting for {pattern!r}; output so far:\n"
                                   + self.buf.decode(errors="replace"))

    def send(self, data):
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def run(self, command, timeout=30):
        """Runs a shell command on the console; returns (status, output)."""
        # The quotes keep the echoed command line from matching the markers.
        self.send(b'echo "@@BEG""IN@@"; ' + command.encode() + b'; echo "@@END""@@$?@@"\n')
        out, m = self.expect(rb"@@BEGIN@@\r?\n(.*?)@@END@@(\d+)@@", timeout)
        self.expect(re.escape(PROMPT), timeout)
        return int(m.group(2)), m.group(1).decode(errors="replace").replace("\r", "")

    def qmp(self, *commands):
        s = socket.socket(socket.AF_UNIX)
        s.connect(self.qmp_sock)
        f = s.makefile("rwb")
        json.loads(f.readline())  # greeting
        replies = []
        for c in ("qmp_capabilities",) + commands:
            f.write(json.dumps({"execute": c}).encode() + b"\n")
            f.flush()
            while True:
                msg = json.loads(f.readline())
                if "return" in msg or "error" in msg:
                    replies.append(msg)
                    break
        s.close()
        return replies[1:]

    def wait_exit(self, timeout):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


class Checker:
    def __init__(self):
        self.failed = 0

    def check(self, name, ok, detail=""):
        print(f"{'PASS' if ok else 'FAIL'}  {name}" + (f": {detail}" if detail else ""), flush=True)
        if not ok:
            self.failed += 1
        return ok


def main():
    global VERBOSE
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument("--image", default=os.environ.get("VMCAT_IMAGE_DIR",
                                                       os.path.join(here, "..", "build", "image")))
    ap.add_argument("--boots", type=int, default=3)
    ap.add_argument("--append", default="", help="extra kernel command line parameters")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()
    VERBOSE = args.verbose
    c = Checker()
    tmp = tempfile.mkdtemp(prefix="vmcat-img-")
    guests = []
    try:
        times = []
        for i in range(args.boots):
            g = Guest(args.image, tmp, args.append)
            guests.append(g)
            g.expect(re.escape(BANNER), 120)
            times.append(time.monotonic() - g.t0)
            g.expect(re.escape(PROMPT), 30)
            if i < args.boots - 1:
                # Alternate the two ways of shutting down.
                if i % 2 == 0:
                    g.send(b"poweroff\n")
                    how = "poweroff"
                else:
                    g.qmp("system_powerdown")
                    how = "system_powerdown"
                t = time.monotonic()
                rc = g.wait_exit(30)
                c.check(f"boot {i + 1}: {how} ends QEMU", rc is not None,
                        f"exit {rc} after {time.monotonic() - t:.2f} s")
                g.kill()
                continue

            # The last boot: functional checks.
            g.run("stty cols 1000")  # no line wrapping of long commands
            st, out = g.run("tty")
            c.check("console tty", st == 0 and out.strip().startswith("/dev/tty"), out.strip())
            m = re.search(r"vmcat\.hostname=(\S+)", args.append)
            st, out = g.run("id; hostname")
            c.check("id / hostname", "uid=0(root)" in out and (m.group(1) if m else "vmcat-guest") in out,
                    out.strip())
            st, out = g.run("ls /dev/virtio-ports/")
            c.check("virtio port symlink", "org.vmcat.agent.0" in out, out.strip())

            a = socket.socket(socket.AF_UNIX)
            a.connect(g.agent_sock)
            a.settimeout(10)
            st, out = g.run("echo hello-from-guest > /dev/virtio-ports/org.vmcat.agent.0")
            got = b""
            try:
                while b"hello-from-guest\n" not in got:
                    d = a.recv(4096)
                    if not d:
                        break
                    got += d
            except socket.timeout:
                pass
            c.check("virtio port guest->host", b"hello-from-guest" in got, repr(got))
            a.sendall(b"hello-from-host\n")
            st, out = g.run("head -n1 /dev/virtio-ports/org.vmcat.agent.0")
            c.check("virtio port host->guest", "hello-from-host" in out, out.strip())
            a.close()

            st, out = g.run("ip -4 addr show eth0; ip route; cat /etc/resolv.conf")
            c.check("eth0 10.0.2.15/24 up", "inet 10.0.2.15/24" in out and ",UP" in out, "")
            c.check("default route via 10.0.2.2", "default via 10.0.2.2" in out, "")
            c.check("resolv.conf", "nameserver 10.0.2.3" in out, "")

            g.run("mkdir -p /tmp/www && echo vmcat-guest-httpd > /tmp/www/index.html"
                  " && httpd -p 8080 -h /tmp/www")
            body = b""
            for _ in range(50):
                try:
                    body = urllib.request.urlopen(f"http://127.0.0.1:{g.port}/", timeout=5).read()
                    break
                except OSError:
                    time.sleep(0.2)
            c.check("httpd in guest via hostfwd", body.strip() == b"vmcat-guest-httpd", repr(body))

            st, out = g.run("lsmod")
            mods = sorted(line.split()[0] for line in out.strip().splitlines()[1:] if line.strip())
            c.check("modules loaded", "virtio_net" in mods and "vsock_loopback" in mods, " ".join(mods))
            st, out = g.run("ls -l /dev/vsock")
            c.check("/dev/vsock", st == 0, out.strip())
            st, out = g.run("test -x /usr/bin/vmcat")
            if st == 0:
                st, out = g.run(
                    "(vmcat relay -u VSOCK-LISTEN:5000 CREATE:/tmp/vs.out &) ; sleep 1;"
                    " echo vsock-loopback-ok | vmcat relay -u - VSOCK-CONNECT:1:5000; sleep 1;"
                    " cat /tmp/vs.out", timeout=60)
                c.check("vsock loopback (vmcat, CID 1)", "vsock-loopback-ok" in out, out.strip())
                if "vmcat.agent=1" in args.append:
                    st, out = g.run("sleep 1; cat /tmp/agent.log; ps | grep -c '[v]mcat agent'")
                    print("INFO  vmcat.agent=1: /tmp/agent.log and agent process count:",
                          out.strip().replace("\n", " | "), flush=True)
            else:
                print("SKIP  vsock loopback: no /usr/bin/vmcat in the image", flush=True)

            # Job control and Ctrl-C.
            g.send(b"sleep 1000\n")
            time.sleep(1.0)
            g.send(b"\x03")
            g.expect(re.escape(PROMPT), 10)
            st, out = g.run("echo alive")
            c.check("Ctrl-C interrupts a foreground job", st == 0 and "alive" in out)
            st, out = g.run("sleep 1000 & jobs; kill %1")
            c.check("job control (jobs)", "Running" in out, out.strip())
            g.send(b"exit\n")
            g.expect(re.escape(PROMPT), 30)
            st, out = g.run("echo again")
            c.check("exit gives a fresh shell", st == 0 and "again" in out)

            g.qmp("system_powerdown")
            t = time.monotonic()
            rc = g.wait_exit(30)
            c.check("system_powerdown ends QEMU", rc is not None,
                    f"exit {rc} after {time.monotonic() - t:.2f} s")

        med = statistics.median(times)
        print(f"INFO  time to banner: {', '.join(f'{t:.2f}' for t in times)} s (median {med:.2f} s)")
        size = sum(os.path.getsize(os.path.join(args.image, f))
                   for f in ("vmlinuz", "initramfs.cpio.gz"))
        print(f"INFO  image size: vmlinuz {os.path.getsize(os.path.join(args.image, 'vmlinuz'))} B"
              f" + initramfs {os.path.getsize(os.path.join(args.image, 'initramfs.cpio.gz'))} B"
              f" = {size / 1e6:.1f} MB")
    finally:
        for g in guests:
            g.kill()
        shutil.rmtree(tmp, ignore_errors=True)
    print("FAILED" if c.failed else "OK", f"({c.failed} failed)" if c.failed else "")
    return 1 if c.failed else 0


if __name__ == "__main__":
    sys.exit(main())
