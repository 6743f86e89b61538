#!/usr/bin/python3
"""Benchmark `vmcat relay` against socat and against no relay at all.

Runs every scenario with three contestants side by side in one run:

  direct  the load generator talks straight to the sink / echo server
  socat   socat with its default options (the reference)
  vmcat   `vmcat relay` with the very same addresses

Scenarios (select with --only; names in SCENARIOS below):

  bulk      2 GiB in one direction, sender -> relay -> sink, MB/s measured
            by the sink from the first byte to EOF, and the CPU time the
            whole machine spent per GiB (on 2 cores the sender, the relay and
            the sink compete for CPU, so that cost bounds the throughput):
              bulk-tcp-tcp    TCP-LISTEN      -> TCP
              bulk-unix-tcp   UNIX-LISTEN     -> TCP
              bulk-unix-unix  UNIX-LISTEN     -> UNIX-CONNECT
  connrate  sequential connect + 64-byte echo + close, connections/s:
              connrate-tcp    TCP-LISTEN,fork -> TCP echo server
              connrate-exec   TCP-LISTEN,fork -> EXEC:cat
  latency   64-byte ping-pong over one connection through
            TCP-LISTEN,fork -> TCP echo server; median and p99 RTT, and the
            median latency each relay adds over direct:
              latency         processes placed by the scheduler
              latency-pinned  every process pinned to CPU 0: no cross-CPU
                              wake-ups (which cost tens of µs in a VM and
                              dominate the figure), so it shows the relay's
                              own work per message
              latency-split   client on CPU 0, echo server on CPU 1, the
                              relay where the scheduler puts it: a fixed
                              cross-CPU path for direct, as between two
                              busy programs
  memory    1000 idle relayed connections (TCP-LISTEN,fork -> echo server):
            total PSS of the relay and all its descendants

Each measurement is repeated --runs times (contestant order rotates between
runs, to spread drift of a noisy machine evenly) and the median is reported.
Before each measurement the driver waits (up to --wait-idle seconds) for
other work to leave the CPUs, and says how many measurements it had to start
on a busy machine anyway.
The load generators are bench/benchtool.cc, compiled on the fly.

Only loopback is used. Every process is started in its own process group and
killed with its descendants on every exit path; socket files live in a
temporary directory that is removed at the end.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import re
import resource
import select
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from benchlib import (BENCH_DIR, BenchError, argument_parser, cpu_busy_counters,
                      cpu_model_and_flags, exit_on_signals, first_line, fmt_num, git_commit, log,
                      markdown_table, median, select_scenarios, text_table, update_doc)

DOC_SECTION = "## vmcat relay vs socat 1.7.4"

SCENARIOS = {
    "bulk": ["bulk-tcp-tcp", "bulk-unix-tcp", "bulk-unix-unix"],
    "connrate": ["connrate-tcp", "connrate-exec"],
    "latency": ["latency", "latency-pinned", "latency-split"],
    "memory": ["memory"],
}
ALL_SCENARIOS = [s for group in SCENARIOS.values() for s in group]
SCENARIO_NAMES = list(SCENARIOS) + [s for s in ALL_SCENARIOS if s not in SCENARIOS]


# --------------------------------------------------------------------------
# Processes


def descendants(root: int) -> list[int]:
    """All live descendants of `root`, from /proc (children first-level first)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        # comm may contain spaces and parentheses: split after the last ')'.
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    out: list[int] = []
    todo = [root]
    while todo:
        pid = todo.pop(0)
        for child in children.get(pid, []):
            out.append(child)
            todo.append(child)
    return out


class Processes:
    """Starts processes in their own process groups and kills them all later.

    Killing the group catches socat's forked children; descendants that moved
    to another group or session (EXEC with setsid) are found through /proc
    and killed one by one.
    """

    def __init__(self, logdir: Path):
        self.logdir = logdir
        self.live: list[subprocess.Popen] = []
        self.counter = 0

    def start(self, argv: list[str], name: str, stdin=subprocess.DEVNULL,
              cpu: int | None = None) -> subprocess.Popen:
        """`cpu` pins the process (and whatever it forks) to one CPU."""
        self.counter += 1
        errlog = open(self.logdir / f"{self.counter:03d}-{name}.stderr", "w+b")
        pin = None if cpu is None else (lambda: os.sched_setaffinity(0, {cpu}))
        p = subprocess.Popen(argv, stdin=stdin, stdout=subprocess.PIPE, stderr=errlog,
                             bufsize=0, start_new_session=True, preexec_fn=pin)
        p.errlog = errlog  # type: ignore[attr-defined]
        p.name = name  # type: ignore[attr-defined]
        self.live.append(p)
        return p

    @staticmethod
    def stderr_tail(p: subprocess.Popen, limit: int = 600) -> str:
        log = p.errlog  # type: ignore[attr-defined]
        log.flush()
        log.seek(0)
        text = log.read().decode(errors="replace").strip()
        return text[-limit:]

    def kill(self, p: subprocess.Popen, grace: float = 2.0) -> None:
        if p not in self.live:
            return
        self.live.remove(p)
        victims = descendants(p.pid) if p.poll() is None else []
        for sig in (signal.SIGTERM, signal.SIGKILL):
            if p.poll() is None:
                try:
                    os.killpg(p.pid, sig)
                except ProcessLookupError:
                    pass
            for pid in victims:
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
            try:
                p.wait(timeout=grace)
                break
            except subprocess.TimeoutExpired:
                continue
        # The group may outlive its leader (orphaned socat children).
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        p.wait()
        p.errlog.close()  # type: ignore[attr-defined]
        if p.stdout:
            p.stdout.close()

    def kill_all(self) -> None:
        for p in list(self.live):
            self.kill(p, grace=1.0)


def read_line(p: subprocess.Popen, timeout: float) -> str:
    """One line of a child's unbuffered stdout, without blocking forever."""
    fd = p.stdout.fileno()
    data = b""
    deadline = time.monotonic() + timeout
    while not data.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            raise BenchError(f"{p.name}: no output within {timeout:.0f} s")
        chunk = os.read(fd, 1)  # byte by byte: later lines stay in the pipe
        if not chunk:
            raise BenchError(f"{p.name} exited (status {p.wait()}) before printing a line: "
                             f"{Processes.stderr_tail(p)}")
        data += chunk
    return data.decode().strip()


def finish(p: subprocess.Popen, timeout: float, procs: Processes) -> tuple[int, str, float]:
    """Waits for a child to exit; returns (status, rest of stdout, CPU seconds)."""
    deadline = time.monotonic() + timeout
    while True:
        pid, status, usage = os.wait4(p.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() > deadline:
            tail = procs.stderr_tail(p)
            procs.kill(p)
            raise BenchError(f"{p.name} still running after {timeout:.0f} s (killed)"
                             + (f": {tail}" if tail else ""))
        time.sleep(0.005)
    p.returncode = os.waitstatus_to_exitcode(status)
    out = p.stdout.read().decode(errors="replace").strip()
    procs.kill(p)
    return p.returncode, out, usage.ru_utime + usage.ru_stime


def fields(line: str) -> dict[str, str]:
    return dict(kv.split("=", 1) for kv in line.split() if "=" in kv)


def last_line(out: str) -> str:
    lines = out.strip().splitlines()
    return lines[-1] if lines else ""


def cpu_busy(interval: float = 0.5) -> float:
    """Fraction of all CPUs busy over `interval`."""
    b0, t0 = cpu_busy_counters()
    time.sleep(interval)
    b1, t1 = cpu_busy_counters()
    idle = (t1 - b1) - (t0 - b0)
    return 1 - idle / max(t1 - t0, 1)


# --------------------------------------------------------------------------
# Addresses and readiness


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tcp_listening(port: int) -> bool:
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                next(f)
                for line in f:
                    cols = line.split()
                    if cols[3] == "0A" and int(cols[1].rsplit(":", 1)[1], 16) == port:
                        return True
        except OSError:
            pass
    return False


def unix_listening(path: str) -> bool:
    with open("/proc/net/unix") as f:
        next(f)
        for line in f:
            cols = line.split()
            # Flags 00010000 is __SO_ACCEPTCON: listen() has been called.
            if len(cols) >= 8 and cols[7] == path and int(cols[3], 16) & 0x10000:
                return True
    return False


def wait_listening(p: subprocess.Popen, where: str, procs: Processes, timeout: float = 10) -> None:
    """Waits until a relay listens, without connecting (that would use up a
    non-fork relay's only connection)."""
    check = (lambda: unix_listening(where[5:])) if where.startswith("unix:") else \
        (lambda: tcp_listening(int(where.rsplit(":", 1)[1])))
    deadline = time.monotonic() + timeout
    while not check():
        if p.poll() is not None:
            raise BenchError(f"{p.name} exited with status {p.returncode} before listening: "
                             f"{procs.stderr_tail(p)}")
        if time.monotonic() > deadline:
            raise BenchError(f"{p.name} not listening on {where} after {timeout:.0f} s")
        time.sleep(0.005)


# --------------------------------------------------------------------------
# Results


@dataclass
class Row:
    """One line of the table: a metric for each contestant over the runs."""
    title: str
    unit: str
    higher_is_better: bool
    target_direct: float | None = None  # bulk: required share of direct throughput
    runs: dict[str, list[float]] = field(default_factory=dict)
    errors: dict[str, list[str]] = field(default_factory=dict)

    def add(self, who: str, value: float) -> None:
        self.runs.setdefault(who, []).append(value)

    def fail(self, who: str, message: str) -> None:
        self.errors.setdefault(who, []).append(message)

    def median(self, who: str) -> float | None:
        return median(self.runs.get(who))


class Bench:
    def __init__(self, args: argparse.Namespace, benchtool: Path, tmp: Path):
        self.args = args
        self.tool = str(benchtool)
        self.tmp = tmp
        self.procs = Processes(tmp)
        self.rows: dict[str, Row] = {}
        self.busy_measurements = 0  # started although other work kept the CPUs busy
        self.measurements = 0

    def row(self, key: str, title: str, unit: str, higher_is_better: bool) -> Row:
        if key not in self.rows:
            self.rows[key] = Row(title, unit, higher_is_better)
        return self.rows[key]

    def relay_argv(self, who: str, a1: str, a2: str) -> list[str]:
        if who == "socat":
            return [self.args.socat, a1, a2]
        return [self.args.vmcat, "relay", a1, a2]

    def contestants(self, names: list[str]):
        """Yields (run, contestant) for every run. The order rotates between runs
        so that no contestant always goes first; each measurement waits for a
        quiet machine first."""
        for run in range(self.args.runs):
            k = run % len(names)
            for who in names[k:] + names[:k]:
                self.wait_quiet()
                yield run, who

    def wait_quiet(self) -> None:
        """On a shared 2-core machine a compiler in the background halves any
        figure: before each measurement, wait (bounded) for the CPUs to be mostly idle."""
        self.measurements += 1
        deadline = time.monotonic() + self.args.wait_idle
        busy = cpu_busy()
        while busy > self.args.idle_threshold:
            if time.monotonic() > deadline:
                self.busy_measurements += 1
                log(f"  (CPUs {busy:.0%} busy with other work; measuring anyway)")
                return
            time.sleep(2)
            busy = cpu_busy()

    def start_server(self, mode: str, listen: str,
                     cpu: int | None = None) -> tuple[subprocess.Popen, str]:
        p = self.procs.start([self.tool, mode, listen], f"{mode}", cpu=cpu)
        line = read_line(p, 10)
        if not line.startswith("listening "):
            raise BenchError(f"{mode}: unexpected output {line!r}")
        where = line.split()[1]  # tcp:PORT or unix:PATH
        connect = f"tcp:127.0.0.1:{where[4:]}" if where.startswith("tcp:") else where
        return p, connect

    def start_relay(self, who: str, a1: str, a2: str, where: str,
                    cpu: int | None = None) -> subprocess.Popen:
        p = self.procs.start(self.relay_argv(who, a1, a2), who, cpu=cpu)
        wait_listening(p, where, self.procs)
        return p

    # ---------------------------------------------------------------- bulk

    def bulk(self, name: str) -> None:
        kind = name.split("-", 1)[1]  # tcp-tcp, unix-tcp, unix-unix
        src, dst = kind.split("-")
        nbytes = self.args.bytes
        label = {"tcp": "TCP", "unix": "UNIX"}
        size = f"{nbytes / 2**30:.4g} GiB" if nbytes >= 2**30 else f"{nbytes / 2**20:.4g} MiB"
        title = f"Bulk {label[src]}→{label[dst]}"
        row = self.row(name, f"{title}, {size}", "MB/s", True)
        row.target_direct = 0.8 if kind == "unix-unix" else 0.6
        cpu_row = self.row(f"{name}-cpu", f"{title}: CPU time of the whole machine per GiB",
                           "CPU s", False)
        for run, who in self.contestants(["direct", "socat", "vmcat"]):
            try:
                mbps, cpu, machine = self.bulk_once(who, src, dst, nbytes, run)
                row.add(who, mbps)
                cpu_row.add(who, machine)
                log(f"  {name:15s} run {run + 1} {who:6s} {mbps:9.1f} MB/s"
                    f"  machine CPU {machine:.2f} s/GiB"
                    + (f"  relay CPU {cpu:.2f} s" if who != "direct" else ""))
            except BenchError as e:
                row.fail(who, str(e))
                log(f"  {name:15s} run {run + 1} {who:6s} FAILED: {e}")
            finally:
                self.procs.kill_all()

    def bulk_once(self, who: str, src: str, dst: str, nbytes: int, run: int):
        sink_listen = f"unix:{self.tmp}/sink-{who}-{run}.sock" if dst == "unix" else "tcp:0"
        sink, sink_connect = self.start_server("sink", sink_listen)
        relay = None
        if who == "direct":
            target = sink_connect
        else:
            if src == "unix":
                path = f"{self.tmp}/relay-{who}-{run}.sock"
                a1, target = f"UNIX-LISTEN:{path}", f"unix:{path}"
            else:
                port = free_port()
                a1 = f"TCP-LISTEN:{port},reuseaddr,bind=127.0.0.1"
                target = f"tcp:127.0.0.1:{port}"
            a2 = (f"UNIX-CONNECT:{sink_connect[5:]}" if dst == "unix"
                  else f"TCP:127.0.0.1:{sink_connect.rsplit(':', 1)[1]}")
            relay = self.start_relay(who, a1, a2, target)
        # Generous: even 50 MB/s must finish; a hang is a finding, not a wait.
        timeout = nbytes / 50e6 + 30
        # Whole-machine CPU during the transfer (sender + relay + sink + kernel):
        # on 2 cores this, not the relay alone, is what bounds the throughput.
        busy0, _ = cpu_busy_counters()
        sender = self.procs.start([self.tool, "send", target, str(nbytes)], "send")
        status, out, _ = finish(sender, timeout, self.procs)
        if status != 0:
            raise BenchError(f"sender exited with {status}: {self.procs.stderr_tail(sender)}")
        status, out, _ = finish(sink, 10, self.procs)
        busy1, _ = cpu_busy_counters()
        busy_s = (busy1 - busy0) / os.sysconf("SC_CLK_TCK")
        result = fields(last_line(out))
        if status != 0 or int(result.get("bytes", -1)) != nbytes:
            raise BenchError(f"sink received {result.get('bytes')} of {nbytes} bytes "
                             f"(status {status})")
        cpu = 0.0
        if relay is not None:
            status, _, cpu = finish(relay, 10, self.procs)
            if status != 0:
                raise BenchError(f"{who} exited with status {status}: "
                                 f"{self.procs.stderr_tail(relay)}")
        return float(result["mb_per_s"]), cpu, busy_s / (nbytes / 2**30)

    def fork_relay(self, who: str, a2: str,
                   cpu: int | None = None) -> tuple[subprocess.Popen, str]:
        """Starts `TCP-LISTEN:P,fork,reuseaddr A2` (loopback only); returns it and
        the benchtool address to connect to."""
        port = free_port()
        target = f"tcp:127.0.0.1:{port}"
        relay = self.start_relay(who, f"TCP-LISTEN:{port},fork,reuseaddr,bind=127.0.0.1", a2,
                                 target, cpu=cpu)
        return relay, target

    def run_client(self, argv: list[str], who: str, timeout: float,
                   cpu: int | None = None) -> dict[str, str]:
        client = self.procs.start([self.tool, *argv], argv[0], cpu=cpu)
        status, out, _ = finish(client, timeout, self.procs)
        if status != 0:
            raise BenchError(f"{argv[0]} client exited with {status} (relay {who}): "
                             f"{self.procs.stderr_tail(client)}")
        return fields(last_line(out))

    # ------------------------------------------------------------ connrate

    def connrate(self, name: str) -> None:
        exec_cat = name == "connrate-exec"
        title = ("Connection rate, TCP-LISTEN fork → EXEC:cat" if exec_cat
                 else "Connection rate, TCP-LISTEN fork → TCP echo")
        row = self.row(name, title, "conn/s", True)
        try:
            if exec_cat:
                names, a2 = ["socat", "vmcat"], "EXEC:cat"  # no direct counterpart
            else:
                _, echo = self.start_server("echo", "tcp:0")
                names, a2 = ["direct", "socat", "vmcat"], f"TCP:127.0.0.1:{echo.split(':')[2]}"
            for run, who in self.contestants(names):
                relay = None
                try:
                    if who == "direct":
                        target = echo
                    else:
                        relay, target = self.fork_relay(who, a2)
                    r = self.run_client(["connrate", target, f"{self.args.duration:g}", "64"],
                                        who, self.args.duration + 60)
                    if relay is not None and relay.poll() is not None:
                        raise BenchError(f"{who} exited with status {relay.returncode}: "
                                         f"{self.procs.stderr_tail(relay)}")
                    rate = float(r["conn_per_s"])
                    row.add(who, rate)
                    log(f"  {name:15s} run {run + 1} {who:6s} {rate:9.1f} conn/s")
                except BenchError as e:
                    row.fail(who, str(e))
                    log(f"  {name:15s} run {run + 1} {who:6s} FAILED: {e}")
                finally:
                    if relay is not None:
                        self.procs.kill(relay)
        finally:
            self.procs.kill_all()

    # ------------------------------------------------------------- latency

    def latency(self, name: str) -> None:
        # Where the processes run: (client, echo server, relay) CPUs.
        placement = {
            "latency": (None, None, None),
            "latency-pinned": (0, 0, 0),
            "latency-split": (0, 1, None),
        }[name]
        client_cpu, server_cpu, relay_cpu = placement
        suffix = {"latency": "", "latency-pinned": ", all on CPU 0",
                  "latency-split": ", client on CPU 0, server on CPU 1"}[name]
        med = self.row(f"{name}-median", f"Latency 64 B ping-pong{suffix}, median RTT", "µs",
                       False)
        p99 = self.row(f"{name}-p99", f"Latency 64 B ping-pong{suffix}, p99 RTT", "µs", False)
        added = self.row(f"{name}-added", f"Latency added over direct{suffix} (median)", "µs",
                         False)
        # Unpinned, a session's latency depends mostly on where the scheduler
        # happened to put the processes (a figure can jump from 6 to 70 µs),
        # and that placement tends to stick for a whole session. So each run
        # is many short sessions, contestants interleaved, and the run's
        # figure is the median over its sessions.
        sessions = self.args.sessions
        pings = max(self.args.pings // sessions, 100)
        names = ["direct", "socat", "vmcat"]
        try:
            _, echo = self.start_server("echo", "tcp:0", cpu=server_cpu)
            for run in range(self.args.runs):
                got: dict[str, list[tuple[float, float]]] = {who: [] for who in names}
                targets = {"direct": echo}
                relays = []
                try:
                    for who in ("socat", "vmcat"):
                        relay, targets[who] = self.fork_relay(
                            who, f"TCP:127.0.0.1:{echo.split(':')[2]}", cpu=relay_cpu)
                        relays.append(relay)
                    self.wait_quiet()
                    for session in range(sessions):
                        k = (run + session) % len(names)
                        for who in names[k:] + names[:k]:
                            r = self.run_client(["pingpong", targets[who], str(pings), "64"], who,
                                                pings * 0.01 + 60, cpu=client_cpu)
                            got[who].append((float(r["median_us"]), float(r["p99_us"])))
                except BenchError as e:
                    med.fail("run", str(e))
                    log(f"  {name:15s} run {run + 1} FAILED: {e}")
                    continue
                finally:
                    for relay in relays:
                        self.procs.kill(relay)
                for who in names:
                    m = statistics.median(v[0] for v in got[who])
                    med.add(who, m)
                    p99.add(who, statistics.median(v[1] for v in got[who]))
                    if who != "direct":
                        # Against the direct figure of the same run, so slow
                        # drift of the machine cancels out.
                        added.add(who, m - statistics.median(v[0] for v in got["direct"]))
                    sess = " ".join(f"{v[0]:.0f}" for v in got[who])
                    log(f"  {name:15s} run {run + 1} {who:6s} median {m:6.1f} µs"
                        f"  (sessions: {sess})")
        finally:
            self.procs.kill_all()

    # -------------------------------------------------------------- memory

    def memory(self, name: str) -> None:
        k = self.args.idle_conns
        total = self.row("memory", f"Memory, {k} idle relayed TCP connections (PSS)", "MiB", False)
        nproc = self.row("memory-procs", f"Processes for {k} idle connections", "count", False)
        try:
            _, echo = self.start_server("echo", "tcp:0")
            for run, who in self.contestants(["socat", "vmcat"]):
                relay = client = None
                try:
                    relay, target = self.fork_relay(who, f"TCP:127.0.0.1:{echo.split(':')[2]}")
                    base_kib, _ = tree_pss(relay.pid)
                    client = self.procs.start([self.tool, "idle", target, str(k)], "idle",
                                              stdin=subprocess.PIPE)
                    line = read_line(client, k * 0.1 + 30)
                    if not line.startswith("ready"):
                        raise BenchError(f"idle client: {line!r}")
                    time.sleep(self.args.settle)
                    kib, count = tree_pss(relay.pid)
                    client.stdin.close()  # the client re-checks every connection, then exits
                    status, out, _ = finish(client, 60, self.procs)
                    if status != 0:
                        raise BenchError(f"idle connections broke while idle ({who}): "
                                         f"{last_line(out)} {self.procs.stderr_tail(client)}")
                    total.add(who, kib / 1024)
                    nproc.add(who, count)
                    log(f"  {name:15s} run {run + 1} {who:6s} PSS {kib / 1024:8.1f} MiB"
                        f" in {count} processes (before connections "
                        f"{base_kib / 1024:.1f} MiB; {line})")
                except BenchError as e:
                    total.fail(who, str(e))
                    log(f"  {name:15s} run {run + 1} {who:6s} FAILED: {e}")
                finally:
                    for p in (client, relay):
                        if p is not None:
                            self.procs.kill(p)
        finally:
            self.procs.kill_all()


def tree_pss(pid: int) -> tuple[int, int]:
    """Sum of Pss (KiB) over a process and its descendants, and their number."""
    total = 0
    count = 0
    for p in [pid] + descendants(pid):
        try:
            with open(f"/proc/{p}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
                        count += 1
                        break
        except OSError:
            pass  # exited meanwhile
    return total, count


# --------------------------------------------------------------------------
# Report


# Decimals shown per unit (others: none).
UNIT_DIGITS = {"µs": 1, "MiB": 1, "CPU s": 2}


def fmt(value: float | None, unit: str) -> str:
    return fmt_num(value, UNIT_DIGITS.get(unit, 0))


def ratio_text(a: float | None, b: float | None, percent: bool = False) -> str:
    if a is None or b is None or b == 0:
        return "—"
    return f"{100 * a / b:.0f} %" if percent else f"{a / b:.2f}×"


def table(rows: dict[str, Row]) -> list[list[str]]:
    header = ["Scenario", "Unit", "direct", "socat", "vmcat", "vmcat/socat", "vmcat/direct"]
    out = [header]
    for key, row in rows.items():
        d, s, v = row.median("direct"), row.median("socat"), row.median("vmcat")
        cells = [fmt(d, row.unit), fmt(s, row.unit), fmt(v, row.unit)]
        for i, who in enumerate(("direct", "socat", "vmcat")):
            if row.errors.get(who):
                cells[i] += f" ({len(row.errors[who])} failed)"
        if key.endswith("-added"):
            cells[0] = "0"
            d = None  # the ratio to direct is meaningless for an added latency
        percent = row.unit in ("MB/s", "conn/s")
        unit = row.unit + (" ↑" if row.higher_is_better else " ↓")
        out.append([row.title, unit, *cells, ratio_text(v, s), ratio_text(v, d, percent)])
    return out


def targets(rows: dict[str, Row]) -> list[tuple[str, str, str]]:
    """(description, verdict, measured value); verdict is one of met,
    not met, inconclusive, not measured."""
    out = []

    def check(key: str, desc: str, test) -> None:
        row = rows.get(key)
        if row is None:
            return
        try:
            ok, shown = test(row)
            verdict = {True: "met", False: "not met", None: "inconclusive"}[ok]
        except (TypeError, ZeroDivisionError):
            verdict, shown = "not measured", "a contestant failed"
        out.append((desc, verdict, shown))

    for key, label in (("bulk-tcp-tcp", "TCP→TCP"), ("bulk-unix-tcp", "UNIX→TCP"),
                       ("bulk-unix-unix", "UNIX→UNIX")):
        row = rows.get(key)
        if row is None:
            continue
        share = row.target_direct
        check(key, f"Bulk {label}: vmcat ≥ 2.5× socat",
              lambda r: (r.median("vmcat") / r.median("socat") >= 2.5,
                         f"{r.median('vmcat') / r.median('socat'):.2f}×"))
        check(key, f"Bulk {label}: vmcat ≥ {share:.0%} of direct",
              lambda r, share=share: (r.median("vmcat") / r.median("direct") >= share,
                                      f"{r.median('vmcat') / r.median('direct'):.1%}"))
    check("connrate-tcp", "Connection rate TCP→TCP: vmcat ≥ 3× socat",
          lambda r: (r.median("vmcat") / r.median("socat") >= 3,
                     f"{r.median('vmcat') / r.median('socat'):.2f}×"))
    check("connrate-exec", "Connection rate TCP→EXEC:cat: vmcat ≥ 1.5× socat",
          lambda r: (r.median("vmcat") / r.median("socat") >= 1.5,
                     f"{r.median('vmcat') / r.median('socat'):.2f}×"))

    def latency_test(fixed_placement: bool):
        def test(r: Row):
            s, v = r.median("socat"), r.median("vmcat")
            shown = f"vmcat adds {v:.1f} µs, socat {s:.1f} µs"
            if s <= 0 or (v < 0 and not fixed_placement):
                # Faster than no relay at all where the scheduler places the
                # processes anew each session: placement noise dominates.
                return None, shown + " (a relay beat direct: scheduling noise dominates)"
            if v < 0:
                # Direct's placement is fixed here, so this is no noise: a relay
                # that polls before sleeping saves a wake-up direct pays.
                return True, shown + " (vmcat's round trip is shorter than direct's)"
            return v <= s / 2, f"{shown} ({v / s:.2f}×)"
        return test
    check("latency-added", "Latency: vmcat adds ≤ ½ of what socat adds", latency_test(False))
    check("latency-pinned-added", "Latency, all on one CPU (extra): vmcat adds ≤ ½ of what "
          "socat adds", latency_test(True))
    check("latency-split-added", "Latency, client and server on different CPUs (extra): "
          "vmcat adds ≤ ½ of what socat adds", latency_test(True))
    check("memory", "Memory: vmcat ≤ ¼ of socat",
          lambda r: (r.median("vmcat") <= r.median("socat") / 4,
                     f"{r.median('vmcat'):.1f} MiB vs {r.median('socat'):.1f} MiB "
                     f"({r.median('vmcat') / r.median('socat'):.2f}×)"))
    return out


def render_text(rows: dict[str, Row], note: str) -> str:
    lines = text_table(table(rows), left={0, 1})
    lines.append("")
    for desc, verdict, shown in targets(rows):
        lines.append(f"{verdict.upper() if verdict == 'not met' else verdict:12s}  {desc}: {shown}")
    if note:
        lines += ["", note]
    failures = [(row.title, who, msg) for row in rows.values()
                for who, msgs in row.errors.items() for msg in msgs]
    if failures:
        lines.append("")
        lines.append("Failures:")
        for title, who, msg in failures:
            lines.append(f"  {title} / {who}: {msg}")
    return "\n".join(lines)


def machine_description() -> str:
    cpu, _ = cpu_model_and_flags()
    return f"{os.cpu_count()} cores, {cpu}, Linux {platform.release()}"


def build_type(vmcat: str) -> str:
    """CMAKE_BUILD_TYPE of the build directory `vmcat` sits in, if it has one."""
    cache = Path(vmcat).resolve().parent / "CMakeCache.txt"
    try:
        m = re.search(r"^CMAKE_BUILD_TYPE:STRING=(.*)$", cache.read_text(), re.M)
    except OSError:
        return "unknown"
    return m.group(1) if m and m.group(1) else "unknown"


def render_markdown(rows: dict[str, Row], args: argparse.Namespace, command: str,
                    note: str) -> str:
    socat_version = first_line([args.socat, "-V"], r"socat version (\S+)")
    vmcat_version = first_line([args.vmcat, "relay", "--version"], r"vmcat (\S+)")
    commit = git_commit()
    lines = [
        DOC_SECTION,
        "",
        f"- Date: {datetime.date.today().isoformat()}",
        f"- Machine: {machine_description()}",
        f"- socat {socat_version} (Debian package, default options); "
        f"vmcat {vmcat_version} at commit {commit} ({build_type(args.vmcat)} build)",
        f"- Median of {args.runs} run(s); bulk {args.bytes} bytes, connection rate "
        f"{args.duration:g} s per run, {args.pings} pings, {args.idle_conns} idle connections",
        f"- Reproduce: `{command}`",
        "",
    ]
    t = table(rows)
    lines += markdown_table(t[0], t[1:], ["---", "---"] + ["---:"] * (len(t[0]) - 2))
    lines.append("")
    lines.append("↑ higher is better, ↓ lower is better. Bulk MB/s is measured by the sink "
                 "from the first byte to EOF. Direct for UNIX→TCP is the sender talking TCP to "
                 "the same sink; its target share is the TCP one (60 %). On 2 cores sender, "
                 "relay and sink compete for CPU: the \"CPU time of the whole machine\" rows "
                 "show the cost that bounds throughput. Unpinned latency depends on where the "
                 "scheduler puts the processes (a cross-CPU wake-up costs tens of µs in this "
                 "VM); the \"all on CPU 0\" rows show each relay's own cost per message, "
                 "and the \"client on CPU 0, server on CPU 1\" rows a fixed cross-CPU path "
                 "with the relay placed by the scheduler.")
    if note:
        lines += ["", note]
    lines.append("")
    lines.append("Targets:")
    lines.append("")
    for desc, verdict, shown in targets(rows):
        shown_verdict = f"**{verdict}**" if verdict == "not met" else verdict
        lines.append(f"- {desc}: {shown_verdict} ({shown})")
    lines += ["", "<details><summary>Every run (the table shows medians)</summary>", ""]
    for row in rows.values():
        runs = "; ".join(f"{who} " + ", ".join(fmt(v, row.unit) for v in values)
                         for who, values in row.runs.items())
        lines.append(f"- {row.title} ({row.unit}): {runs or 'none'}")
    lines += ["", "</details>"]
    failures = [(row.title, who, msg) for row in rows.values()
                for who, msgs in row.errors.items() for msg in msgs]
    if failures:
        lines.append("")
        lines.append("Failures during the run:")
        lines.append("")
        for title, who, msg in failures:
            lines.append(f"- {title} / {who}: {msg}")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------
# Main


def build_benchtool(build_dir: Path) -> Path:
    source = BENCH_DIR / "benchtool.cc"
    binary = build_dir / "benchtool"
    if not binary.exists() or binary.stat().st_mtime < source.stat().st_mtime:
        build_dir.mkdir(parents=True, exist_ok=True)
        cxx = os.environ.get("CXX", "g++")
        subprocess.run([cxx, "-O2", "-std=c++20", "-Wall", "-Wextra", "-o", str(binary),
                        str(source)], check=True)
    return binary


def parse_args(argv: list[str]) -> argparse.Namespace:
    ap = argument_parser(__doc__, epilog="scenarios: " + ", ".join(SCENARIO_NAMES))
    ap.add_argument("--socat", default=shutil.which("socat") or "/usr/bin/socat")
    ap.add_argument("--runs", type=int, help="repetitions per measurement (default 3; --quick 1)")
    ap.add_argument("--quick", action="store_true",
                    help="smaller sizes and one run: a smoke test, not a measurement")
    ap.add_argument("--only", help="comma-separated scenarios or groups (default: all)")
    ap.add_argument("--bytes", type=int, help="bulk transfer size (default 2 GiB)")
    ap.add_argument("--duration", type=float, help="connection-rate seconds per run (default 5)")
    ap.add_argument("--pings", type=int, help="ping-pong round trips per run (default 20000)")
    ap.add_argument("--sessions", type=int, default=5,
                    help="latency: connections per contestant and run, interleaved; the "
                         "pings are split among them (default 5)")
    ap.add_argument("--idle-conns", type=int, default=1000,
                    help="idle connections for the memory scenario (default 1000)")
    ap.add_argument("--settle", type=float, default=1.0,
                    help="seconds to wait before measuring memory (default 1)")
    ap.add_argument("--wait-idle", type=float,
                    help="before each run, wait up to this many seconds for other work to "
                         "leave the CPUs (default 60; --quick 5)")
    ap.add_argument("--idle-threshold", type=float, default=0.15,
                    help="CPU share (0-1) other work may use for a run to start (default 0.15)")
    ap.add_argument("--build-dir", type=Path,
                    default=Path(tempfile.gettempdir()) / "vmcat-relay-bench",
                    help="where benchtool is compiled (default: $TMPDIR/vmcat-relay-bench)")
    ap.add_argument("--markdown", type=Path, help="also write the results as markdown to FILE")
    ap.add_argument("--update-doc", type=Path, metavar="FILE",
                    help=f"replace the '{DOC_SECTION[3:]}' section of FILE "
                         "(e.g. docs/BENCHMARKS.md) with the results")
    args = ap.parse_args(argv)
    quick = args.quick
    args.runs = args.runs or (1 if quick else 3)
    args.bytes = args.bytes or (256 << 20 if quick else 2 << 30)
    args.duration = args.duration or (1.5 if quick else 5.0)
    args.pings = args.pings or (3000 if quick else 20000)
    args.wait_idle = args.wait_idle if args.wait_idle is not None else (5 if quick else 60)
    args.scenarios = select_scenarios(ap, args.only, ALL_SCENARIOS, groups=SCENARIOS)
    for binary in (args.vmcat, args.socat):
        if not os.access(binary, os.X_OK):
            ap.error(f"{binary}: not an executable (build vmcat with: cmake -S . -B build -G Ninja "
                     "&& ninja -C build vmcat, or pass --vmcat)")
    args.vmcat = os.path.abspath(args.vmcat)
    return args


def reproduce_command(args: argparse.Namespace) -> str:
    """The command line that repeats this measurement (paths and output
    options left out: they do not change the figures)."""
    parts = ["bench/relay_bench.py"]
    if args.quick:
        parts.append("--quick")
    defaults = parse_args((["--quick"] if args.quick else []) +
                          ["--vmcat", args.vmcat, "--socat", args.socat])
    for opt in ("runs", "bytes", "duration", "pings", "sessions", "idle_conns", "settle"):
        if getattr(args, opt) != getattr(defaults, opt):
            parts.append(f"--{opt.replace('_', '-')} {getattr(args, opt):g}")
    if args.scenarios != ALL_SCENARIOS:
        parts.append("--only " + ",".join(args.scenarios))
    return " ".join(parts)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    # 1000 idle connections need ~2000 descriptors in a single-process relay
    # and in the client and echo server; children inherit this limit.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 4 * args.idle_conns + 256
    if soft != resource.RLIM_INFINITY and soft < want:
        new = want if hard == resource.RLIM_INFINITY else min(want, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
    exit_on_signals("relay_bench")

    benchtool = build_benchtool(args.build_dir)
    tmp = Path(tempfile.mkdtemp(prefix="relay-bench-"))
    bench = Bench(args, benchtool, tmp)
    command = reproduce_command(args)
    print(f"vmcat relay benchmark: {machine_description()}", file=sys.stderr)
    print(f"vmcat={args.vmcat} socat={args.socat} runs={args.runs} "
          f"scenarios={','.join(args.scenarios)}", file=sys.stderr)
    try:
        for name in args.scenarios:
            log(f"{name}:")
            try:
                getattr(bench, name.split("-")[0])(name)
            except BenchError as e:  # a shared server failed: the scenario is lost
                log(f"  {name} FAILED: {e}")
                bench.rows.setdefault(name, Row(name, "", True)).fail("all", str(e))
    finally:
        bench.procs.kill_all()
        shutil.rmtree(tmp, ignore_errors=True)
    note = ""
    if bench.busy_measurements:
        note = (f"Note: {bench.busy_measurements} of {bench.measurements} measurements started "
                f"while other work kept the CPUs more than {args.idle_threshold:.0%} busy.")
    print()
    print(render_text(bench.rows, note))
    if args.markdown or args.update_doc:
        md = render_markdown(bench.rows, args, command, note)
        if args.markdown:
            args.markdown.write_text(md)
        if args.update_doc:
            update_doc(args.update_doc, DOC_SECTION, md)
    failed = any(row.errors for row in bench.rows.values())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
