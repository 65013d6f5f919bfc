"""Helpers for the crm-store end-to-end scenarios (tests/e2e/scenarios/4*).

Why this exists: those scenarios restart PostgreSQL and crm-store in the
middle of a stream of writes, which tools/stack (one start, one stop) does
not do. Here a scenario drives the pieces itself: a private PostgreSQL from
tools/pgharness.py (a copy of MERKAZIA_PG_TEMPLATE), crm-store from
MERKAZIA_BIN with its log in the run directory (scanned by the runner for
sanitizer reports and secrets: the secrets are listed in a stack.env the
runner reads), msgtool for single requests and store-load (common/store.c,
the daemons' client) for streams of writes. Everything waits by polling with
a time bound; stop() ends every process it started and the server.
Standard library only.
"""

import json
import os
import signal
import subprocess
import sys
import time

REPO = os.environ.get("MERKAZIA_REPO") or os.path.dirname(os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.realpath(__file__)))))
sys.path.insert(0, os.path.join(REPO, "tools"))
import pgharness  # noqa: E402

BIN = os.environ.get("MERKAZIA_BIN", os.path.join(REPO, "build/asan/bin"))
RUN = os.environ.get("MERKAZIA_RUN_DIR", "")
MULT = pgharness.timeout_mult()
ADMIN_EMAIL = "admin@merkazia.test"
ADMIN_PASSWORD = "Admin-pw-%d-secret" % os.getpid()


class Fail(Exception):
    """A check of the scenario failed."""


def check(cond, msg):
    if not cond:
        raise Fail(msg)


def say(msg):
    print(msg, flush=True)


def wait_for(pred, timeout, what, interval=0.05):
    end = time.monotonic() + timeout * MULT
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > end:
            raise Fail("timed out after %.1f s waiting for %s" %
                       (timeout * MULT, what))
        time.sleep(interval)


class Env:
    """PostgreSQL + crm-store in the scenario's run directory."""

    def __init__(self, name="crm"):
        check(RUN, "MERKAZIA_RUN_DIR is not set (use tests/e2e/run)")
        self.dir = os.path.join(RUN, name)
        os.makedirs(os.path.join(self.dir, "state"), exist_ok=True)
        self.pg = pgharness.Server(
            template=os.environ.get("MERKAZIA_PG_TEMPLATE") or None)
        self.url = None
        self.store = None
        self.nstarts = 0
        self.procs = []

    def start(self, **settings):
        self.url = self.pg.start()
        with open(os.path.join(self.dir, "stack.env"), "w",
                  encoding="utf-8") as f:
            f.write("MERKAZIA_SECRET_KEYS=MERKAZIA_ADMIN_PASSWORD\n")
            f.write("MERKAZIA_ADMIN_PASSWORD=%s\n" % ADMIN_PASSWORD)
        self.start_store(**settings)

    def env(self, **extra):
        e = dict(os.environ)
        e.update({
            "DATABASE_URL": self.url,
            "MERKAZIA_RUNTIME_DIR": self.dir,
            "MERKAZIA_STATE_DIR": os.path.join(self.dir, "state"),
            "MERKAZIA_STORE_RECONNECT_MAX_MS": "500",
        })
        e.update({k: str(v) for k, v in extra.items()})
        return e

    def log_path(self):
        return os.path.join(self.dir, "crm-store-%d.log" % self.nstarts)

    def log_lines(self, n=None):
        out = []
        for i in range(1, (n or self.nstarts) + 1):
            try:
                with open(os.path.join(self.dir, "crm-store-%d.log" % i),
                          encoding="utf-8", errors="replace") as f:
                    for line in f:
                        try:
                            out.append(json.loads(line))
                        except ValueError:
                            out.append({"msg": line.rstrip("\n"),
                                        "raw": True})
            except OSError:
                pass
        return out

    def start_store(self, wait=True, **settings):
        """Start crm-store; wait until it logs that it started."""
        self.nstarts += 1
        log = open(self.log_path(), "w", encoding="utf-8")
        extra = {"MERKAZIA_STORE_DEMO": "1",
                 "MERKAZIA_ADMIN_EMAIL": ADMIN_EMAIL,
                 "MERKAZIA_ADMIN_PASSWORD": ADMIN_PASSWORD}
        extra.update(settings)
        self.store = subprocess.Popen(
            [os.path.join(BIN, "crm-store")], env=self.env(**extra),
            stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        log.close()
        if wait:
            n = self.nstarts
            wait_for(lambda: any(l.get("msg", "").startswith(
                "started crm-store") for l in self.log_lines(n)) or
                self.store.poll() is not None, 20, "crm-store to start")
            check(self.store.poll() is None,
                  "crm-store exited with %s" % self.store.poll())
        return self.store

    def stop_store(self, sig=signal.SIGTERM):
        if self.store is None:
            return None
        if self.store.poll() is None:
            self.store.send_signal(sig)
        try:
            code = self.store.wait(timeout=15 * MULT)
        except subprocess.TimeoutExpired:
            self.store.kill()
            code = self.store.wait()
            raise Fail("crm-store did not stop within 15 s of SIGTERM")
        self.store = None
        return code

    def pg_stop(self):
        pgharness._pg_ctl_stop(self.pg.data, self.pg._prefix,
                               self.pg._bindir, 30 * MULT)

    def pg_start(self):
        pgharness._pg_ctl_start(self.pg.data, self.pg.dir, self.pg.logfile,
                                self.pg._prefix, self.pg._bindir, 30 * MULT)

    def sql(self, query):
        """Run SQL through psql; return the rows as lists of strings."""
        p = subprocess.run(["psql", "-X", "-A", "-t", "-F", "\t", "-v",
                            "ON_ERROR_STOP=1", "-c", query, self.url],
                           capture_output=True, text=True,
                           timeout=30 * MULT, check=False)
        check(p.returncode == 0, "psql failed: %s" % p.stderr.strip())
        return [l.split("\t") for l in p.stdout.splitlines() if l != ""]

    def count(self, table, where="true"):
        return int(self.sql("SELECT count(*) FROM %s WHERE %s" %
                            (table, where))[0][0])

    def request(self, *messages, timeout_ms=5000):
        """Send messages ({"type": ..., "payload": ...}) one by one on a
        cooked REQ socket with msgtool; return the replies in order."""
        msgs = []
        for i, m in enumerate(messages):
            m = dict(m)
            m.setdefault("job_id", 1000 + i)
            msgs.append(json.dumps(m, ensure_ascii=False))
        p = subprocess.run(
            [os.path.join(BIN, "msgtool"), "send", "-e", "STORE", "-p",
             "req", "-t", str(int(timeout_ms * MULT))] + msgs,
            env=self.env(), capture_output=True, text=True,
            timeout=60 * MULT, check=False)
        check(p.returncode == 0, "msgtool exited %d: %s" %
              (p.returncode, p.stderr.strip()[-500:]))
        out = [json.loads(l) for l in p.stdout.splitlines() if l.strip()]
        check(len(out) == len(msgs), "sent %d requests, got %d replies" %
              (len(msgs), len(out)))
        return out

    def stats(self):
        r = self.request({"type": "STORE_SYSQUERY",
                          "payload": {"q": "stats"}})[0]
        check(r["type"] == "STORE_REPLY", "stats: %s" % r)
        return r["payload"]

    def loader(self, *args, spool=None):
        """Start store-load; return a Loader reading its JSON lines."""
        argv = [os.path.join(BIN, "store-load")] + [str(a) for a in args]
        if spool:
            argv += ["-p", spool]
        p = subprocess.Popen(argv, env=self.env(), stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE,
                             stderr=open(os.path.join(
                                 self.dir, "store-load-%d.log" %
                                 (len(self.procs) + 1)), "w"))
        self.procs.append(p)
        return Loader(p)

    def stop(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        try:
            self.stop_store()
        finally:
            self.pg.stop(keep_log=os.path.join(self.dir, "postgres.log.txt"))


class Loader:
    """A running store-load and its latest report."""

    def __init__(self, proc):
        self.proc = proc
        self.last = {}
        os.set_blocking(proc.stdout.fileno(), False)
        self.buf = b""

    def poll(self):
        try:
            chunk = self.proc.stdout.read()
        except (BlockingIOError, ValueError):
            chunk = None
        if chunk:
            self.buf += chunk
            *lines, self.buf = self.buf.split(b"\n")
            for line in lines:
                if line.strip():
                    self.last = json.loads(line)
        return self.last

    def wait_count(self, field, n, timeout, what=None):
        return wait_for(lambda: self.poll().get(field, 0) >= n, timeout,
                        what or "store-load %s >= %d" % (field, n))

    def finish(self, timeout):
        try:
            code = self.proc.wait(timeout=timeout * MULT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise Fail("store-load did not finish within %.0f s (last %s)" %
                       (timeout * MULT, self.poll()))
        self.poll()
        if self.buf.strip():
            self.last = json.loads(self.buf)
        return code, self.last


def main(fn):
    """Run fn(env) with a fresh Env; exit 1 on a failed check."""
    env = Env()
    code = 0
    try:
        fn(env)
    except Fail as e:
        say("FAIL: %s" % e)
        code = 1
    except Exception:  # a bug in the scenario is a failure too
        import traceback
        traceback.print_exc()
        code = 1
    finally:
        try:
            env.stop()
        except Exception as e:
            say("while stopping: %s" % e)
            code = 1
    sys.exit(code)
