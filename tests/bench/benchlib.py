"""What the benchmarks in tests/bench share (bench_call.py,
bench_gateway.py): where the repository and the binaries are, the table's
output, and a process's CPU time and build as /proc and its file say.

Why this exists: each benchmark is a script run on its own (make
bench-call, make bench-gateway, and --smoke in make check); the pieces
that read the machine the same way are written once here. Importing it
puts tests/e2e/lib on sys.path and defaults MERKAZIA_BIN to build/bin, so
`import e2e` follows it. Standard library only.
"""
import os
import signal
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.realpath(__file__))))
os.environ.setdefault("MERKAZIA_BIN", os.path.join(REPO, "build/bin"))
sys.path.insert(0, os.path.join(REPO, "tests/e2e/lib"))
import e2e  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")

OUT = sys.stdout  # the table; --json sends it to stderr (set OUT)


def say(text):
    print(text, file=OUT, flush=True)


def cpu_s(pid):
    """utime + stime of pid in seconds, or None when it is gone."""
    try:
        with open("/proc/%d/stat" % pid, encoding="ascii") as f:
            rest = f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    # rest[0] is field 3 (state); utime and stime are fields 14 and 15.
    return (int(rest[11]) + int(rest[12])) / CLK_TCK


def is_asan(path):
    """True when the program at path was built with AddressSanitizer."""
    try:
        with open(path, "rb") as f:
            return b"__asan_init" in f.read()
    except OSError:
        return False


def stop_overrun(sim, limit_s):
    """When sim-caller (a Popen) still runs, stop it (SIGTERM hangs every
    call up; SIGKILL after 20 s) and fail: it ran over limit_s."""
    if sim.poll() is None:
        sim.send_signal(signal.SIGTERM)
        try:
            sim.wait(timeout=e2e.T(20))
        except subprocess.TimeoutExpired:
            sim.kill()
            sim.wait()
        raise e2e.Fail("sim-caller ran over %.0f s" % limit_s)
