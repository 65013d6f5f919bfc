#!/usr/bin/env python3
"""Scenario: `make demo` works. tools/demo with MERKAZIA_DEMO_ONCE=1 starts
the release build with PostgreSQL through tools/stack, shows that every
daemon is ready, stops everything and exits 0. Why: the demo is the first
thing a newcomer runs and nothing else exercises the release binaries; it
must not rot. (make demo itself also runs `make deps` and `make all`, which
make check has done already.)"""
import os
import sys
import time

sys.path.insert(0, os.environ["MERKAZIA_E2E_LIB"])
import e2e  # noqa: E402
from e2e import check  # noqa: E402


def scenario():
    check(all(os.access(os.path.join(e2e.RELEASE_BIN, d), os.X_OK)
              for d in e2e.DAEMONS),
          "release binaries missing in %s (run make all)" % e2e.RELEASE_BIN)
    env = dict(os.environ)
    env["MERKAZIA_DEMO_ONCE"] = "1"
    # Port 0: tests never take the demo's fixed port (8080).
    env["MERKAZIA_HTTP_LISTEN"] = "127.0.0.1:0"
    # In the run directory, so the runner scans the demo's logs too.
    env["MERKAZIA_DEMO_DIR"] = os.path.join(e2e.RUN_DIR, "d")
    t = time.monotonic()
    code, out, err = e2e.run([os.path.join(e2e.REPO, "tools/demo")], env,
                             timeout=60)
    e2e.delay("demo start to exit", time.monotonic() - t)
    print(out + err)
    check(code == 0, "tools/demo exited %d" % code)
    ready = [l for l in out.splitlines() if l.startswith("demo: ready in")]
    check(ready and all(d in ready[0] for d in e2e.DAEMONS),
          "the demo did not show every daemon ready")
    check("demo: stopped cleanly" in out, "the demo did not stop cleanly")
    check("stack: PostgreSQL: ready" in err, "no PostgreSQL progress line")
    stopped = e2e.json_lines(os.path.join(env["MERKAZIA_DEMO_DIR"], "log",
                                          "gateway.log"))
    check(stopped and stopped[-1]["msg"] == "stopped",
          "the gateway did not log its stop")


e2e.main(scenario)
