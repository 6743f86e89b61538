"""Helpers shared by the benchmark drivers in bench/ (relay_bench.py,
vm_bench.py, agent_bench.py).

The drivers are run as scripts (`bench/x.py` or `python3 bench/x.py`, from any
directory); Python puts the script's own directory first on sys.path, so they
import this module with a plain `import benchlib` / `from benchlib import ...`.

What is here:

- errors and logging: BenchError, log(), exit_on_signals()
- processes and /proc: Processes, proc_alive(), proc_cmdline(),
  proc_runtime_ns(), cpu_busy_counters()
- VM benchmarks: VmBench (private vmcat runtime directory, running and
  force-stopping vmcat), find_image()
- command line: argument_parser(), select_scenarios(), command_line(),
  remove_tmp()
- statistics and numbers: median(), nearest_rank(), p90(), fmt_num()
- machine description: cpu_model_and_flags(), cpu_description(),
  load_average(), first_line(), git_commit()
- output: text_table(), markdown_table(), md_cell(), verdict(),
  render_report_text(), render_report_markdown(), update_doc()

Everything here is plain standard library Python 3.11.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Collection, Iterable, Sequence
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent

# The first lines of docs/BENCHMARKS.md, used when update_doc() creates it.
DOC_INTRO = ("Benchmarks are programs in bench/ that print a table; "
             "figures below are from this machine kind.")


class BenchError(Exception):
    """A run or scenario could not complete (error, wrong result, hang):
    reported, not fatal."""


def log(msg: str) -> None:
    """Progress and diagnostics go to stderr; stdout is for the results."""
    print(msg, file=sys.stderr, flush=True)


def exit_on_signals(prog: str) -> None:
    """Makes SIGTERM and SIGHUP unwind through the `finally` blocks (which
    kill what the driver started) like Ctrl-C does; the exit status is
    128 + the signal number."""
    def interrupted(signo, frame):
        log(f"{prog}: signal {signo}: cleaning up")
        sys.exit(128 + signo)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, interrupted)


# --------------------------------------------------------------------------
# Processes and /proc


def proc_alive(pid: int) -> bool:
    """True if `pid` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return False
    # comm may contain spaces and parentheses: the state follows the last ')'.
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def proc_cmdline(pid: int) -> list[str]:
    """The process's argv ([] if it is gone)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return [a.decode(errors="replace") for a in f.read().split(b"\0") if a]
    except OSError:
        return []


def proc_runtime_ns(pid: int) -> int | None:
    """Exact CPU time of all the process's threads, from schedstat (ns);
    None if it cannot be read."""
    total = 0
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                total += int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return total


def cpu_busy_counters() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine from /proc/stat; idle and
    iowait count as not busy."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + (v[4] if len(v) > 4 else 0)
    total = sum(v[:8])
    return total - idle, total


class Processes:
    """Starts processes in their own process groups and kills them all later."""

    def __init__(self) -> None:
        self.live: list[subprocess.Popen] = []

    def start(self, argv: list[str], **kw) -> subprocess.Popen:
        """subprocess.Popen in a new session; stdin defaults to /dev/null."""
        kw.setdefault("stdin", subprocess.DEVNULL)
        p = subprocess.Popen(argv, start_new_session=True, **kw)
        self.live.append(p)
        return p

    def kill(self, p: subprocess.Popen) -> None:
        """SIGKILLs the process and its group and reaps it."""
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            p.kill()
        except OSError:
            pass
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            log(f"warning: pid {p.pid} did not die")
        if p in self.live:
            self.live.remove(p)

    def forget(self, p: subprocess.Popen) -> None:
        """`p` exited: kill what may be left of its process group (e.g. a nc
        left behind by bash)."""
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        if p in self.live:
            self.live.remove(p)

    def kill_all(self) -> None:
        for p in list(self.live):
            self.kill(p)


# --------------------------------------------------------------------------
# VM benchmarks


class VmBench:
    """Base of the benchmark classes that run VMs through vmcat.

    Holds the parsed arguments (`args.vmcat` is the vmcat binary), the
    temporary directory `tmp`, a private vmcat runtime directory `tmp`/rt
    (passed to every vmcat started here through $VMCAT_RUNTIME_DIR in
    `env`) and the processes started (`procs`).
    """

    def __init__(self, args: argparse.Namespace, tmp: Path):
        self.args = args
        self.tmp = tmp
        self.runtime = tmp / "rt"
        self.runtime.mkdir()
        self.env = dict(os.environ, VMCAT_RUNTIME_DIR=str(self.runtime))
        self.procs = Processes()

    def vmcat(self, *argv: str, timeout: float = 60) -> subprocess.CompletedProcess:
        """Runs `vmcat ARGV...` to completion, output captured; BenchError
        if it has not exited after `timeout` seconds (it is killed)."""
        p = self.procs.start([self.args.vmcat, *argv], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, env=self.env)
        try:
            out, err = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.procs.kill(p)
            raise BenchError(f"vmcat {' '.join(argv)}: no exit within {timeout:g} s")
        self.procs.forget(p)
        return subprocess.CompletedProcess(p.args, p.returncode, out, err)

    def force_stop(self, name: str, sup: int, qemu: int, *, shown: str, label: str) -> None:
        """`vmcat stop NAME --force`, then makes sure the VM's supervisor
        (pid `sup`) and QEMU (pid `qemu`; 0: unknown) are gone: waits up to
        5 s, then SIGKILLs whichever still runs (if its command line still
        says vmcat / qemu: the pid may have been reused).

        Problems are logged, not raised; `shown` names the stop command in
        the log, `label` prefixes the line about a process left alive.
        """
        try:
            r = self.vmcat("stop", name, "--force", timeout=20)
            if r.returncode != 0:
                log(f"  {shown}: rc {r.returncode}: "
                    f"{r.stderr.decode(errors='replace').strip()}")
        except BenchError as e:
            log(f"  {e}")
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and any(proc_alive(p) for p in (sup, qemu) if p):
            time.sleep(0.01)
        for pid, word in ((sup, "vmcat"), (qemu, "qemu")):
            if pid and proc_alive(pid) and any(word in a for a in proc_cmdline(pid)[:1]):
                log(f"  {label}{word} pid {pid} still alive after stop: killing it")
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass


def find_image(ap: argparse.ArgumentParser, image: Path | None, build_argv: list[str],
               shown: str) -> Path:
    """The guest image directory, resolved: `image`, or else the last line
    `build_argv` (images/build-image.sh ... -q) prints. Exits through
    `ap.error` if the build fails (`shown` names it in the message) or the
    directory lacks vmlinuz or initramfs.cpio.gz."""
    if image is None:
        try:
            out = subprocess.run(build_argv, check=True, stdout=subprocess.PIPE, text=True,
                                 timeout=600).stdout
        except (OSError, subprocess.SubprocessError) as e:
            ap.error(f"{shown} failed ({e}); pass --image DIR")
        image = Path(out.strip().splitlines()[-1])
    image = image.resolve()
    for f in ("vmlinuz", "initramfs.cpio.gz"):
        if not (image / f).is_file():
            ap.error(f"{image / f}: missing")
    return image


# --------------------------------------------------------------------------
# Command line


def argument_parser(doc: str, vmcat_help: str = "vmcat binary",
                    epilog: str | None = None) -> argparse.ArgumentParser:
    """A parser for a driver whose module docstring is `doc`: its first
    paragraph is the description, the rest the epilog (unless `epilog` is
    given). Its first option is --vmcat (default: $VMCAT or build/vmcat),
    described by `vmcat_help`."""
    ap = argparse.ArgumentParser(description=doc.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=doc.split("\n\n", 1)[1] if epilog is None else epilog)
    ap.add_argument("--vmcat", default=os.environ.get("VMCAT", str(REPO / "build" / "vmcat")),
                    help=f"{vmcat_help} (default: $VMCAT or build/vmcat)")
    return ap


def select_scenarios(ap: argparse.ArgumentParser, only: str | None, order: list[str],
                     groups: dict[str, list[str]] | None = None) -> list[str]:
    """The scenarios `--only` selects (comma-separated; a group name stands
    for its members; no --only: all), in the order of `order`. An unknown
    name exits through `ap.error`."""
    groups = groups or {}
    names = list(groups) + [s for s in order if s not in groups]
    selected: list[str] = []
    for name in (only.split(",") if only else names):
        name = name.strip()
        if name in groups:
            selected += groups[name]
        elif name in order:
            selected.append(name)
        else:
            ap.error(f"unknown scenario {name!r}; choose from {', '.join(names)}")
    return [s for s in order if s in selected]


def command_line(script: str, argv: list[str], skip_with_value: Collection[str],
                 skip: Collection[str] = ("--keep-tmp",)) -> str:
    """`script` and the arguments `argv`, shell-quoted, without the options
    that do not change the figures (paths, output): `skip_with_value` are
    options with a value (as `--opt V` or `--opt=V`), `skip` flags."""
    parts = [script]
    i = 0
    while i < len(argv):
        a = argv[i]
        if a.split("=", 1)[0] in skip_with_value:
            i += 1 if "=" in a else 2
            continue
        if a not in skip:
            parts.append(shlex.quote(a))
        i += 1
    return " ".join(parts)


def remove_tmp(tmp: Path, keep: bool) -> None:
    """Removes the temporary directory, or says where it was kept."""
    if keep:
        log(f"kept {tmp}")
    else:
        shutil.rmtree(tmp, ignore_errors=True)


# --------------------------------------------------------------------------
# Statistics and numbers


def median(values: Sequence[float] | None) -> float | None:
    """The median; None for no values."""
    return statistics.median(values) if values else None


def nearest_rank(values: Iterable[float], fraction: float) -> float | None:
    """Nearest-rank percentile (`fraction` 0.9: the 90th); None for no values."""
    s = sorted(values)
    if not s:
        return None
    return s[max(0, math.ceil(fraction * len(s)) - 1)]


def p90(values: Iterable[float]) -> float | None:
    """Nearest-rank 90th percentile."""
    return nearest_rank(values, 0.9)


def fmt_num(v: float | None, digits: int = 1) -> str:
    """`v` with `digits` decimals; "—" for None (not measured)."""
    return "—" if v is None else f"{v:.{digits}f}"


# --------------------------------------------------------------------------
# Machine description


def cpu_model_and_flags() -> tuple[str, set[str]]:
    """The first CPU's model name and flags from /proc/cpuinfo."""
    cpu, flags = "unknown CPU", set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name") and cpu == "unknown CPU":
                    cpu = line.split(":", 1)[1].strip()
                if line.startswith("flags") and not flags:
                    flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return cpu, flags


def cpu_description(no_virt: str = "no vmx/svm") -> str:
    """'MODEL (vmx/svm present; /dev/kvm present)'; `no_virt` replaces the
    first part when the CPU has neither vmx nor svm."""
    cpu, flags = cpu_model_and_flags()
    virt = "vmx/svm present" if flags & {"vmx", "svm"} else no_virt
    kvm = "/dev/kvm present" if os.path.exists("/dev/kvm") else "no /dev/kvm"
    return f"{cpu} ({virt}; {kvm})"


def load_average() -> str:
    """The 1, 5 and 15 minute load averages, e.g. '0.12 0.30 0.25'."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def first_line(argv: list[str], pattern: str | None = None) -> str:
    """The first line a command prints (stdout, then stderr), e.g. for a
    version; with `pattern`, its first group's first match instead. "?" if
    the command cannot run, times out (10 s) or prints nothing that fits."""
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    text = p.stdout + p.stderr
    if pattern:
        m = re.search(pattern, text)
        return m.group(1) if m else "?"
    return text.strip().splitlines()[0] if text.strip() else "?"


def git_commit() -> str:
    """The repository's short HEAD commit, plus a remark if src/ has
    uncommitted changes; "?" if git cannot tell."""
    try:
        commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "src"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
        if dirty:
            commit += " plus uncommitted changes in src/"
    except OSError:
        commit = "?"
    return commit or "?"


# --------------------------------------------------------------------------
# Output
#
# A report, as vm_bench.py and agent_bench.py build it, is a dict:
#   "tables":  [(title, header, rows)]: header and each row a list of str
#   "targets": [(description, verdict(...), measured value as text)]
#   "notes":   [str]
# and is printed with render_report_text() and render_report_markdown().


def text_table(rows: list[list[str]], left: Collection[int], indent: str = "") -> list[str]:
    """Plain-text lines of a table whose first row is the header: columns
    two spaces apart, a dashed rule under the header, each line prefixed by
    `indent` and without trailing blanks. Columns whose index is in `left`
    (negative: counted from the end) are left-aligned, the others right-aligned."""
    n = len(rows[0])
    widths = [max(len(r[i]) for r in rows) for i in range(n)]
    lines = []
    for k, r in enumerate(rows):
        cells = [c.ljust(widths[i]) if i in left or i - n in left else c.rjust(widths[i])
                 for i, c in enumerate(r)]
        lines.append(indent + "  ".join(cells).rstrip())
        if k == 0:
            lines.append(indent + "  ".join("-" * w for w in widths))
    return lines


def markdown_table(header: list[str], rows: list[list[str]], align: list[str]) -> list[str]:
    """Lines of a markdown table; `align` holds each column's delimiter
    cell ("---", "---:")."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return lines


def md_cell(s: str, code: bool) -> str:
    """A markdown table cell: `|` escaped; with `code`, in backticks (unless
    empty or already holding backticks)."""
    if code and s and "`" not in s:
        s = f"`{s}`"
    return s.replace("|", "\\|")


def verdict(ok: bool | None) -> str:
    """A target's verdict: met, NOT MET, or n/a (None: not measured)."""
    return "n/a" if ok is None else ("met" if ok else "NOT MET")


def render_report_text(title: str, facts: list[tuple[str, str]], report: dict,
                       command: str) -> str:
    """The report as plain text: `title`, the machine facts and the command
    line, the tables (first and last column left-aligned), targets, notes."""
    lines = [title, ""]
    w = max(len(k) for k, _ in facts)
    lines += [f"  {k.ljust(w)}  {v}" for k, v in facts]
    lines += [f"  {'Command'.ljust(w)}  {command}", ""]
    for table_title, header, rows in report["tables"]:
        lines.append(table_title)
        lines += text_table([header] + rows, left={0, -1}, indent="  ")
        lines.append("")
    lines.append("Targets:")
    for desc, v, shown in report["targets"]:
        lines.append(f"  {v:8s}  {desc}: {shown}")
    if report["notes"]:
        lines += ["", "Notes:"] + [f"  - {n}" for n in report["notes"]]
    return "\n".join(lines)


def render_report_markdown(heading: str, facts: list[tuple[str, str]], report: dict,
                           command: str, explanation: str) -> str:
    """The report as a docs/BENCHMARKS.md section: `heading` ("## ..."),
    the facts as a list, the tables (cells of a "Command" column as code),
    targets, notes, and last the paragraph `explanation`."""
    lines = [heading, ""]
    lines += [f"- {k}: {v}" for k, v in facts]
    lines += [f"- Reproduce: `{command}`", ""]
    for title, header, rows in report["tables"]:
        lines += [f"**{title}**", ""]
        align = ["---"] + ["---:"] * (len(header) - 2) + ["---"]
        cells = [[md_cell(c, header[i] == "Command") for i, c in enumerate(r)] for r in rows]
        lines += markdown_table(header, cells, align)
        lines.append("")
    lines += ["Targets:", ""]
    for desc, v, shown in report["targets"]:
        lines.append(f"- {desc}: {'**not met**' if v == 'NOT MET' else v} ({shown})")
    if report["notes"]:
        lines += ["", "Notes:", ""] + [f"- {n}" for n in report["notes"]]
    lines += ["", explanation]
    return "\n".join(lines) + "\n"


def update_doc(path: Path, heading: str, section: str) -> None:
    """Replaces the section that starts with the line `heading` ("## ...")
    in the markdown file `path` by `section` (which starts with that line),
    up to the next "## " heading; appends it if there is none. Every other
    section stays as it is. A missing file is created with a short intro."""
    text = path.read_text() if path.exists() else f"# Benchmarks\n\n{DOC_INTRO}\n"
    start = text.find(heading + "\n")
    if start < 0:
        text = text.rstrip("\n") + "\n\n" + section
    else:
        nxt = text.find("\n## ", start + len(heading))
        end = len(text) if nxt < 0 else nxt + 1
        text = text[:start] + section + ("\n" if nxt >= 0 else "") + text[end:]
    path.write_text(text)
