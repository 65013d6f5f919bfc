#!/usr/bin/env python3
"""A throw-away PostgreSQL server for tests and the demo.

Why this exists: crm-store needs a real PostgreSQL, and tests must never
touch the system's cluster (port 5432, /var/run/postgresql) nor depend on a
service manager. This module starts a private server: `initdb` into a
temporary directory, a Unix socket in that same SHORT directory
(/tmp/mzpg.XXXXXX; a socket path is at most 107 bytes), no TCP port
(listen_addresses=''), fsync off, trust authentication for the local
socket only, and a database called `merkazia`. It removes everything when
stopped (pg_ctl -m fast, then -m immediate if that does not finish).

`initdb` costs about a second, so a test run makes a TEMPLATE once
(`template`) and each scenario copies its data directory (`Server(template=
...)`), which starts in a fraction of a second.

Root: initdb and postgres refuse to run as root, and CI runs as root. Then
every server command runs as the `postgres` system user (Debian's postgresql
package creates it; MERKAZIA_PG_USER names another) through `runuser -u`,
and the directories are created owned by that user (a mktemp -d directory is
0700, which that user could not enter). As an ordinary user, the server runs
as that user.

Used by tools/stack (import) and by tests/e2e/run (template, cleanup). By
hand:
    tools/pgharness.py template DIR   make a template data directory
    tools/pgharness.py serve          start a server, print one JSON line
                                      {"database_url": ..., "dir": ...},
                                      stop and remove it on SIGINT/SIGTERM
    tools/pgharness.py cleanup DIR    stop a server left in DIR, remove DIR
Standard library only.
"""

import glob
import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time

DATABASE = "merkazia"
DB_USER = "postgres"  # the database role initdb creates (-U)

# Appended to postgresql.conf of every data directory: a test server opens
# no TCP port and trades durability for speed.
TEST_CONF = """
# --- added by tools/pgharness.py: a private test server ---
listen_addresses = ''
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 40
shared_buffers = 32MB
log_min_messages = warning
log_line_prefix = '%m [%p] '
"""


class HarnessError(Exception):
    """A step of the harness failed; the message says which and why."""


def timeout_mult():
    """Return MERKAZIA_TEST_TIMEOUT_MULT (default 1) as a float."""
    try:
        return max(float(os.environ.get("MERKAZIA_TEST_TIMEOUT_MULT", "1")), 0.1)
    except ValueError:
        return 1.0


def bindir():
    """Return the directory of initdb, pg_ctl and postgres."""
    cands = []
    if os.environ.get("MERKAZIA_PG_BINDIR"):
        cands.append(os.environ["MERKAZIA_PG_BINDIR"])
    try:
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True,
                             text=True, timeout=10, check=False)
        if out.returncode == 0:
            cands.append(out.stdout.strip())
    except (OSError, subprocess.TimeoutExpired):
        pass
    # Debian: /usr/lib/postgresql/<major>/bin, newest first.
    cands += sorted(glob.glob("/usr/lib/postgresql/*/bin"),
                    key=lambda p: int(p.split("/")[-2])
                    if p.split("/")[-2].isdigit() else 0, reverse=True)
    for d in cands:
        if os.access(os.path.join(d, "initdb"), os.X_OK) and \
                os.access(os.path.join(d, "pg_ctl"), os.X_OK):
            return d
    found = shutil.which("initdb")
    if found:
        return os.path.dirname(os.path.realpath(found))
    raise HarnessError("PostgreSQL server binaries not found (install the "
                       "postgresql package; or set MERKAZIA_PG_BINDIR)")


def _server_user():
    """Return (prefix argv, pwd entry or None): how to run server commands."""
    if os.geteuid() != 0:
        return [], None
    name = os.environ.get("MERKAZIA_PG_USER", "postgres")
    try:
        pw = pwd.getpwnam(name)
    except KeyError:
        raise HarnessError(
            "running as root, and there is no '%s' user to run PostgreSQL "
            "(initdb refuses root); install the postgresql package" % name)
    return ["runuser", "-u", name, "--"], pw


def make_dir(path, pw):
    """Create directory path (0700), owned by the server's user when root."""
    os.makedirs(path, mode=0o700, exist_ok=True)
    if pw is not None:
        os.chown(path, pw.pw_uid, pw.pw_gid)


def _run(argv, what, timeout):
    """Run a server command; raise HarnessError with its output on failure."""
    try:
        # cwd /: the server's user may not be allowed into ours.
        out = subprocess.run(argv, stdin=subprocess.DEVNULL, cwd="/",
                             capture_output=True, text=True,
                             timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise HarnessError("%s: no answer within %.0f s" % (what, timeout))
    except OSError as e:
        raise HarnessError("%s: %s" % (what, e))
    if out.returncode != 0:
        tail = (out.stderr or out.stdout or "").strip().splitlines()[-8:]
        raise HarnessError("%s failed (exit %d): %s" %
                           (what, out.returncode, " | ".join(tail)))
    return out


def _initdb(data, prefix, bdir, timeout):
    _run(prefix + [os.path.join(bdir, "initdb"), "-D", data, "-U", DB_USER,
                   "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8",
                   "--no-sync", "--no-instructions"],
         "initdb", timeout)
    with open(os.path.join(data, "postgresql.conf"), "a",
              encoding="utf-8") as f:
        f.write(TEST_CONF)


def _pg_ctl_start(data, sockdir, logfile, prefix, bdir, timeout):
    # -k: the socket directory (ours, short); listen_addresses is '' in
    # postgresql.conf, so no TCP port is opened whatever the port number.
    _run(prefix + [os.path.join(bdir, "pg_ctl"), "-D", data, "-l", logfile,
                   "-w", "-t", str(int(timeout)), "-o", "-k " + sockdir,
                   "start"],
         "starting PostgreSQL (pg_ctl start; log %s)" % logfile,
         timeout + 5)


def _pg_ctl_stop(data, prefix, bdir, timeout):
    """Stop the server of data: fast, then immediate. Return True if fast
    shutdown worked."""
    pg_ctl = os.path.join(bdir, "pg_ctl")
    try:
        _run(prefix + [pg_ctl, "-D", data, "-m", "fast", "-w", "-t",
                       str(int(timeout)), "stop"], "pg_ctl stop", timeout + 5)
        return True
    except HarnessError:
        try:
            _run(prefix + [pg_ctl, "-D", data, "-m", "immediate", "-w", "-t",
                           str(int(timeout)), "stop"], "pg_ctl stop",
                 timeout + 5)
        except HarnessError:
            pass
        return False


def _createdb(sockdir, prefix, bdir, timeout):
    _run(prefix + [os.path.join(bdir, "createdb"), "-h", sockdir, "-U",
                   DB_USER, DATABASE], "createdb " + DATABASE, timeout)


def database_url(sockdir):
    """Return the libpq URI of the merkazia database behind sockdir."""
    return "postgresql:///%s?host=%s&user=%s" % (DATABASE, sockdir, DB_USER)


def make_template(path, progress=None):
    """Create a template data directory at path/data holding the merkazia
    database (initdb, start, createdb, stop). path must not exist or be
    empty."""
    mult = timeout_mult()
    prefix, pw = _server_user()
    bdir = bindir()
    make_dir(path, pw)
    data = os.path.join(path, "data")
    t0 = time.monotonic()
    if progress:
        progress("PostgreSQL: initdb of the template (about 2 s)")
    _initdb(data, prefix, bdir, 60 * mult)
    sock = tempfile.mkdtemp(prefix="mzpg.", dir="/tmp")
    try:
        make_dir(sock, pw)
        _pg_ctl_start(data, sock, os.path.join(path, "template.log"),
                      prefix, bdir, 30 * mult)
        try:
            _createdb(sock, prefix, bdir, 30 * mult)
        finally:
            _pg_ctl_stop(data, prefix, bdir, 30 * mult)
    finally:
        shutil.rmtree(sock, ignore_errors=True)
    if progress:
        progress("PostgreSQL: template ready in %.1f s" %
                 (time.monotonic() - t0))
    return data


class Server:
    """One private PostgreSQL server in its own short directory.

    start() makes /tmp/mzpg.XXXXXX (owned by the server's user), fills
    data/ from the template (copy) or with initdb + createdb, starts the
    server on a socket in that directory and sets .url. stop() stops it
    (fast shutdown), copies its log to keep_log when given, and removes
    the directory; it returns False when the server did not stop cleanly.
    """

    def __init__(self, template=None, progress=None):
        self.template = template
        self.progress = progress
        self.dir = None
        self.url = None
        self.started = False
        self._prefix, self._pw = _server_user()
        self._bindir = bindir()

    @property
    def data(self):
        return os.path.join(self.dir, "data")

    @property
    def logfile(self):
        return os.path.join(self.dir, "postgres.log")

    def _say(self, text):
        if self.progress:
            self.progress(text)

    def start(self):
        mult = timeout_mult()
        t0 = time.monotonic()
        self.dir = tempfile.mkdtemp(prefix="mzpg.", dir="/tmp")
        make_dir(self.dir, self._pw)
        if self.template:
            src = os.path.join(self.template, "data") \
                if os.path.isdir(os.path.join(self.template, "data")) \
                else self.template
            if not os.path.isfile(os.path.join(src, "PG_VERSION")):
                raise HarnessError("not a PostgreSQL data directory: " + src)
            self._say("PostgreSQL: copying the template data directory")
            # cp -a keeps the owner (the server's user) when run as root.
            _run(["cp", "-a", src, self.data], "copying " + src, 60 * mult)
            _pg_ctl_start(self.data, self.dir, self.logfile, self._prefix,
                          self._bindir, 30 * mult)
            self.started = True
        else:
            self._say("PostgreSQL: initdb (about 2 s)")
            _initdb(self.data, self._prefix, self._bindir, 60 * mult)
            _pg_ctl_start(self.data, self.dir, self.logfile, self._prefix,
                          self._bindir, 30 * mult)
            self.started = True
            _createdb(self.dir, self._prefix, self._bindir, 30 * mult)
        self.url = database_url(self.dir)
        self._say("PostgreSQL: ready in %.1f s (socket in %s)" %
                  (time.monotonic() - t0, self.dir))
        return self.url

    def stop(self, keep_log=None):
        ok = True
        if self.dir is None:
            return ok
        if self.started:
            ok = _pg_ctl_stop(self.data, self._prefix, self._bindir,
                              30 * timeout_mult())
            self.started = False
        if keep_log and os.path.exists(self.logfile):
            try:
                shutil.copyfile(self.logfile, keep_log)
            except OSError:
                pass
        shutil.rmtree(self.dir, ignore_errors=True)
        self.dir = None
        return ok


def cleanup_dir(path):
    """Stop a server a crashed launcher left in path, then remove path.
    Return True when a server was still running there."""
    if not path or not os.path.basename(path).startswith("mzpg."):
        return False  # only ever remove our own directories
    running = False
    data = os.path.join(path, "data")
    if os.path.exists(os.path.join(data, "postmaster.pid")):
        running = True
        try:
            prefix, _ = _server_user()
            _pg_ctl_stop(data, prefix, bindir(), 10 * timeout_mult())
        except HarnessError:
            pass
    shutil.rmtree(path, ignore_errors=True)
    return running


def _main(argv):
    def say(text):
        print("pgharness: " + text, file=sys.stderr, flush=True)

    if len(argv) >= 2 and argv[0] == "template":
        make_template(argv[1], say)
        return 0
    if len(argv) >= 2 and argv[0] == "cleanup":
        cleanup_dir(argv[1])
        return 0
    if argv and argv[0] == "serve":
        stop = []
        signal.signal(signal.SIGTERM, lambda s, f: stop.append(s))
        signal.signal(signal.SIGINT, lambda s, f: stop.append(s))
        srv = Server(template=argv[1] if len(argv) > 1 else None,
                     progress=say)
        try:
            srv.start()
            print(json.dumps({"database_url": srv.url, "dir": srv.dir}),
                  flush=True)
            while not stop:
                time.sleep(0.2)
        finally:
            srv.stop()
        return 0
    print("usage: pgharness.py template DIR | serve [TEMPLATE] | "
          "cleanup DIR", file=sys.stderr)
    return 2


if __name__ == "__main__":
    try:
        sys.exit(_main(sys.argv[1:]))
    except HarnessError as e:
        print("pgharness: " + str(e), file=sys.stderr)
        sys.exit(1)
