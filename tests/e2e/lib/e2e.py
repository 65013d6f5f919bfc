"""Helpers shared by the Python end-to-end scenarios (tests/e2e/scenarios).

Why this exists: every scenario starts tools/stack, waits for something to
show up in a log or in the notifications, and stops the stack; written once
here, each scenario reads as its assertions. Everything waits by polling
with a bound in time (x MERKAZIA_TEST_TIMEOUT_MULT); nothing sleeps for a
fixed figure. Scenarios print the delays they saw as `delay: ...` lines and
assert order and outcome, never a figure.

Use:  sys.path.insert(0, os.environ["MERKAZIA_E2E_LIB"]); import e2e
      e2e.main(fn)   runs fn(), turns a failed check into exit 1, stops
                     every stack fn started. Standard library only.
"""

import json
import os
import selectors
import signal
import subprocess
import sys
import time
import traceback

REPO = os.environ.get("MERKAZIA_REPO") or os.path.dirname(os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.realpath(__file__)))))
BIN = os.environ.get("MERKAZIA_BIN", os.path.join(REPO, "build/asan/bin"))
RELEASE_BIN = os.environ.get("MERKAZIA_RELEASE_BIN",
                             os.path.join(REPO, "build/bin"))
RUN_DIR = os.environ.get("MERKAZIA_RUN_DIR", "")
STACK = os.environ.get("MERKAZIA_STACK", os.path.join(REPO, "tools/stack"))
DAEMONS = ["gateway", "stt-worker", "llm-worker", "tts-worker", "crm-store",
           "watchdog"]
STOP_ORDER = ["gateway", "stt-worker", "llm-worker", "tts-worker",
              "watchdog", "crm-store"]

try:
    MULT = max(float(os.environ.get("MERKAZIA_TEST_TIMEOUT_MULT", "1")), 0.1)
except ValueError:
    MULT = 1.0

_stacks = []


class Fail(Exception):
    """A scenario's check failed."""


def T(seconds):
    """Return seconds stretched by MERKAZIA_TEST_TIMEOUT_MULT."""
    return seconds * MULT


def check(cond, msg):
    if not cond:
        raise Fail(msg)


def say(msg):
    print(msg, flush=True)


def delay(label, seconds):
    """Print a delay the scenario saw (shown by the runner, not asserted)."""
    say("delay: %s %.3f s" % (label, seconds))


def wait_for(pred, timeout, what, interval=0.05):
    """Poll pred() until it returns something true, for at most timeout
    seconds (already stretched by the caller with T()); return its value,
    or raise Fail naming what was awaited."""
    end = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > end:
            raise Fail("timed out after %.1f s waiting for %s" %
                       (timeout, what))
        time.sleep(interval)


def json_lines(path):
    """Return the JSON objects of a JSON-lines file (other lines skipped)."""
    out = []
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                line = line.strip()
                if line.startswith("{"):
                    try:
                        out.append(json.loads(line))
                    except ValueError:
                        pass
    except OSError:
        pass
    return out


def read_env(path):
    """Parse a KEY=VALUE file as tools/stack writes it."""
    out = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line or line.startswith("#") or "=" not in line:
                continue
            k, v = line.split("=", 1)
            if len(v) >= 2 and v[0] == "'" and v[-1] == "'":
                v = v[1:-1].replace("'\\''", "'")
            out[k] = v
    return out


def run(argv, env=None, timeout=30):
    """Run a program to completion; return (code, stdout, stderr)."""
    p = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=T(timeout),
                       check=False)
    return p.returncode, p.stdout, p.stderr


class _Lines:
    """Lines from a pipe, read with a time bound."""

    def __init__(self, pipe):
        self.pipe = pipe
        self.buf = b""
        self.eof = False

    def line(self, timeout):
        sel = selectors.DefaultSelector()
        sel.register(self.pipe, selectors.EVENT_READ)
        end = time.monotonic() + timeout
        try:
            while b"\n" not in self.buf and not self.eof:
                left = end - time.monotonic()
                if left <= 0:
                    return None
                if sel.select(timeout=min(left, 0.2)):
                    chunk = os.read(self.pipe.fileno(), 65536)
                    if chunk:
                        self.buf += chunk
                    else:
                        self.eof = True
        finally:
            sel.close()
        if b"\n" not in self.buf:
            rest, self.buf = self.buf, b""
            return rest.decode("utf-8", "replace") or None
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode("utf-8", "replace")


class Stack:
    """tools/stack running in a run directory (RUN_DIR by default)."""

    def __init__(self, *args, run_dir=None, env=None):
        self.run_dir = run_dir or RUN_DIR
        check(self.run_dir, "MERKAZIA_RUN_DIR is not set (use tests/e2e/run)")
        self.args = list(args)
        self.env = env
        self.proc = None
        self.ready = None
        self.report = None
        self.code = None
        self.settings = {}
        self.pids = {}

    def start(self, expect_ready=True):
        """Start the stack and wait for its first JSON line. Return it;
        raise Fail if expect_ready and it is not a ready line."""
        self.t0 = time.monotonic()
        self.proc = subprocess.Popen(
            [STACK, "--notify-log"] + self.args + [self.run_dir],
            env=self.env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)
        _stacks.append(self)
        self.out = _Lines(self.proc.stdout)
        line = self.out.line(T(60))
        check(line, "tools/stack printed no JSON line within %.0f s" % T(60))
        first = json.loads(line)
        if "error" in first:
            self.report = first
            self.code = self.proc.wait(timeout=T(30))
            if expect_ready:
                raise Fail("tools/stack did not start: %s" % first["error"])
            return first
        self.ready = first
        self.settings = read_env(first["env"])
        with open(os.path.join(self.run_dir, "pids.json"),
                  encoding="utf-8") as f:
            self.pids = json.load(f)
        return first

    def pid(self, name):
        return self.pids[name]["pid"]

    def path(self, *parts):
        return os.path.join(self.run_dir, *parts)

    def log(self, name):
        """The JSON log lines of a daemon (log/<name>.log) so far."""
        return json_lines(self.path("log", name + ".log"))

    def notifications(self):
        """Every notification so far: {daemon, pid, text, mono}."""
        return json_lines(self.path("notify.log"))

    def kill(self, name, sig=signal.SIGKILL):
        os.kill(self.pid(name), sig)
        return time.monotonic()

    def stop(self, timeout=60, sig=signal.SIGTERM):
        """Signal the stack to stop (SIGTERM unless sig); return (exit code,
        final report)."""
        if self.report is not None or self.proc is None:
            return self.code, self.report
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        line = self.out.line(T(timeout))
        try:
            self.code = self.proc.wait(timeout=T(timeout))
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.code = self.proc.wait()
            raise Fail("tools/stack did not exit within %.0f s of SIGTERM" %
                       T(timeout))
        check(line, "tools/stack printed no report when stopped")
        self.report = json.loads(line)
        return self.code, self.report


def main(fn):
    """Run a scenario function; exit 0 when it returns, 1 on a failure."""
    code = 0
    try:
        fn()
    except Fail as e:
        say("FAIL: %s" % e)
        code = 1
    except Exception:  # a bug in the scenario is a failure too
        traceback.print_exc()
        code = 1
    finally:
        for s in _stacks:
            try:
                s.stop()
            except Exception as e:  # keep cleaning up the others
                say("while stopping a stack: %s" % e)
                code = 1
    sys.exit(code)
