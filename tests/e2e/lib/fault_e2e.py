"""Helpers of the mid-call fault scenarios (tests/e2e/scenarios/98_*.py)
and of the scenarios that place several calls on a stack and check what
each left in PostgreSQL (99_two_gateways.py).

Why this exists: "nothing said is lost" is checked the same way whatever
breaks: a call of tests/scenarios/short_buyer.json runs in the background,
something is broken while it is in the middle (crm-store killed and
started again by tools/stack on SIGUSR1, PostgreSQL stopped and started
through tools/pgharness.py), and then every turn of the call must be in
PostgreSQL, in order, as the caller and the agent said them.

  bg = Call(stack, "name")              # sim-caller in a thread
  sid = bg.wait_sid()                   # the call's SID, from PostgreSQL
  wait_turns(stack, sid, 2)             # at least 2 turn rows written
  restart(stack, "crm-store")           # SIGUSR1 to tools/stack
  pg_stop(stack); pg_start(stack)
  call = bg.join(); check_conversation(stack, call)

Standard library only; every wait is bounded (x MERKAZIA_TEST_TIMEOUT_MULT).
"""

import json
import os
import re
import signal
import sys
import threading
import time

import conv_e2e
import e2e
from e2e import T, check

sys.path.insert(0, os.path.join(e2e.REPO, "tools"))
import pgharness  # noqa: E402


def norm(s):
    return re.sub(r"\s+", " ", s or "").strip()


class Call:
    """One sim-caller call (or a load run) in a background thread."""

    def __init__(self, stack, name, *args):
        self.stack = stack
        self.result = None
        self.error = None
        self.known = set(self._sids())

        def run():
            try:
                self.result = conv_e2e.sim_call(stack, name, *args)
            except Exception as e:  # reported by join()
                self.error = e
        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()

    def _sids(self):
        out = conv_e2e.sql(self.stack, "SELECT call_sid FROM calls")
        return [s for s in out.split("\n") if s]

    def wait_sid(self):
        """The SID of the call this run placed, once its row exists."""
        def new():
            fresh = [s for s in self._sids() if s not in self.known]
            return fresh[0] if fresh else None
        return e2e.wait_for(new, T(30), "the call's row in PostgreSQL",
                            interval=0.1)

    def join(self):
        self.thread.join(timeout=T(150))
        check(not self.thread.is_alive(), "sim-caller did not finish")
        if self.error is not None:
            raise self.error
        return self.result


def turn_count(stack, sid):
    return int(conv_e2e.sql(stack, "SELECT count(*) FROM turns WHERE "
                            "call_sid = '%s'" % sid) or 0)


def wait_turns(stack, sid, n, timeout=60):
    """Wait until call sid has at least n turn rows in PostgreSQL."""
    return e2e.wait_for(lambda: turn_count(stack, sid) >= n, T(timeout),
                        "%d turn rows of %s" % (n, sid), interval=0.1)


def restart(stack, name, timeout=30):
    """Have tools/stack start again the daemons that exited (SIGUSR1) and
    wait until name runs under a new pid and has said READY=1. Return the
    seconds it took."""
    old = stack.pid(name)
    t0 = time.monotonic()
    stack.proc.send_signal(signal.SIGUSR1)
    path = stack.path("pids.json")

    def ready():
        try:
            with open(path, encoding="utf-8") as f:
                doc = json.load(f)
        except (OSError, ValueError):
            return None
        p = doc.get(name) or {}
        if p.get("pid") not in (None, old) and p.get("ready"):
            return doc
        return None
    stack.pids = e2e.wait_for(ready, T(timeout), "%s to be ready again" %
                              name, interval=0.1)
    return time.monotonic() - t0


def _pg(stack):
    d = stack.settings.get("MERKAZIA_PG_DIR")
    check(d, "the stack runs no PostgreSQL of its own")
    prefix, _ = pgharness._server_user()
    return d, prefix, pgharness.bindir()


def pg_stop(stack):
    """Stop the stack's PostgreSQL (fast shutdown: clients disconnected)."""
    d, prefix, bindir = _pg(stack)
    ok = pgharness._pg_ctl_stop(os.path.join(d, "data"), prefix, bindir,
                                T(30))
    check(ok, "PostgreSQL did not stop fast")


def pg_start(stack):
    """Start the stack's PostgreSQL again on the same socket directory."""
    d, prefix, bindir = _pg(stack)
    pgharness._pg_ctl_start(os.path.join(d, "data"), d,
                            os.path.join(d, "postgres.log"), prefix, bindir,
                            T(30))


def check_conversation(stack, call, analysis=False):
    """Check that a finished call of short_buyer.json ended ok and left
    every turn in PostgreSQL: a caller row as said and an agent row as
    the script answers, for every line, in order, and nothing else.
    Return the rows."""
    sid = call["call_sid"]
    check(call["result"] == "ok", "call %s: %s %s" %
          (sid, call["result"], call.get("error")))
    rows = conv_e2e.call_rows(stack, sid, analysis=analysis)
    lines = conv_e2e.lines()
    # Writes may land after the call's status: wait for every turn.
    e2e.wait_for(lambda: turn_count(stack, sid) >= 2 * len(lines), T(20),
                 "%d turn rows of %s (have %d)" %
                 (2 * len(lines), sid, turn_count(stack, sid)), interval=0.2)
    rows = conv_e2e.call_rows(stack, sid, analysis=analysis)
    turns = rows["turns"]
    check(len(turns) == 2 * len(lines), "call %s: %d turn rows, not %d" %
          (sid, len(turns), 2 * len(lines)))
    check([t["seq"] for t in turns] == list(range(1, len(turns) + 1)),
          "call %s: turn seqs %s" % (sid, [t["seq"] for t in turns]))
    for i, line in enumerate(lines):
        ct, at = turns[2 * i], turns[2 * i + 1]
        check(ct["speaker"] == "caller" and at["speaker"] == "agent",
              "call %s: speakers %s, %s at %d" %
              (sid, ct["speaker"], at["speaker"], 2 * i + 1))
        check(norm(ct["heard_text"]) == norm(line.get("text", line["say"])),
              "call %s caller turn %d: %r" % (sid, ct["seq"],
                                               ct["heard_text"]))
        want = norm(conv_e2e.agent_text(line))
        check(norm(at["heard_text"]) == want,
              "call %s agent turn %d heard %r, not %r" %
              (sid, at["seq"], at["heard_text"], want))
    return rows


def call_begun(stack, name):
    """Place a call of short_buyer.json in the background (1.5 s between
    lines) and wait until two of its turns are in PostgreSQL, so a fault
    can meet it mid-call. Return (the Call, its SID, its turn rows)."""
    bg = Call(stack, name, "--pause-ms", "1500")
    sid = bg.wait_sid()
    wait_turns(stack, sid, 2)
    return bg, sid, turn_count(stack, sid)


def call_finished(stack, bg, sid, before, fault):
    """Wait for the call of call_begun; check it completed with every
    turn, some written after the fault (before: the rows then). Return
    (the rows, the turn rows now)."""
    call = bg.join()
    check(isinstance(call, dict), "sim-caller printed several lines")
    rows = check_conversation(stack, call)
    check(rows["call"]["status"] == "completed", "call not completed")
    after = turn_count(stack, sid)
    check(after > before, "no turn was written after the %s" % fault)
    return rows, after
