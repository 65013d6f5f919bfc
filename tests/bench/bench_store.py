#!/usr/bin/env python3
"""bench-store: crm-store's acknowledged writes per second and caller-ID
lookup latency with 100,000 customers (`make bench-store`).

Why: every call writes a row per turn and event, and the first thing a
call needs is the caller's history; both figures belong in the release
notes and any regression in them should be seen. This starts a private
PostgreSQL (tools/pgharness.py; NOTE its test settings: fsync and
synchronous_commit off, so writes/s is an upper bound of what a durable
server gives), crm-store from the release build, loads 100,000 customers
into the demo business, then:
  * store-load sends N turn writes through common/store.c (the daemons'
    client) and reports acknowledged writes per second;
  * store-load runs M caller-ID lookups (STORE_SYSQUERY customer_by_phone,
    one at a time) for random customers and reports p50 / p99.
Prints the figures (one JSON line at the end); asserts nothing about them.
--smoke runs small numbers (part of `make check`). Standard library only.
"""
import json
import os
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.realpath(__file__))))
sys.path.insert(0, os.path.join(REPO, "tools"))
sys.dont_write_bytecode = True
import pgharness  # noqa: E402


def main(argv):
    smoke = "--smoke" in argv
    bindir = os.environ.get("MERKAZIA_BIN", os.path.join(REPO, "build/bin"))
    customers = 1000 if smoke else 100000
    writes = 500 if smoke else 20000
    lookups = 100 if smoke else 5000
    run = tempfile.mkdtemp(prefix="mzb.", dir="/tmp")
    pg = pgharness.Server(progress=lambda t: print("bench: " + t,
                                                   file=sys.stderr))
    store = None
    try:
        url = pg.start()
        env = dict(os.environ, DATABASE_URL=url, MERKAZIA_RUNTIME_DIR=run,
                   MERKAZIA_STATE_DIR=os.path.join(run, "state"),
                   MERKAZIA_STORE_DEMO="1", MERKAZIA_LOG_LEVEL="warn")
        log = open(os.path.join(run, "crm-store.log"), "w")
        store = subprocess.Popen([os.path.join(bindir, "crm-store")],
                                 env=env, stdout=log, stderr=log)
        for _ in range(200):
            out = subprocess.run(["psql", "-XAtc", "SELECT count(*) FROM "
                                  "businesses", url], capture_output=True,
                                 text=True)
            if out.returncode == 0 and out.stdout.strip() == "1":
                break
            time.sleep(0.05)
        t0 = time.monotonic()
        subprocess.run(
            ["psql", "-Xq", "-v", "ON_ERROR_STOP=1", "-c",
             "INSERT INTO customers (business_id, phone, name, cities) "
             "SELECT 1, '+97250' || lpad(i::text, 7, '0'), 'לקוח ' || i, "
             "'{תל אביב}' FROM generate_series(0, %d) i "
             "ON CONFLICT DO NOTHING; ANALYZE customers" % (customers - 1),
             url], check=True)
        print("bench: %d customers loaded in %.1f s" %
              (customers, time.monotonic() - t0), file=sys.stderr)
        w = subprocess.run([os.path.join(bindir, "store-load"), "-n",
                            str(writes), "-c", "CAbench", "-w", "2000",
                            "-t", "120000"], env=env, capture_output=True,
                           text=True, check=True)
        wres = json.loads(w.stdout.splitlines()[-1])
        lk = subprocess.run([os.path.join(bindir, "store-load"), "-L",
                             str(lookups), "-P", str(customers)], env=env,
                            capture_output=True, text=True, check=True)
        lres = json.loads(lk.stdout.splitlines()[-1])
        res = {"customers": customers, "writes": writes,
               "acked_writes_per_s": round(wres["acked_per_s"]),
               "lookups": lres["lookups"], "found": lres["found"],
               "lookup_p50_ms": lres["p50_ms"],
               "lookup_p99_ms": lres["p99_ms"]}
        print("acknowledged writes: %d/s (%d writes, PostgreSQL with fsync "
              "off)" % (res["acked_writes_per_s"], writes))
        print("caller-ID lookup over %d customers: p50 %.3f ms, p99 %.3f ms "
              "(%d lookups, %d found)" % (customers, res["lookup_p50_ms"],
                                          res["lookup_p99_ms"], lookups,
                                          lres["found"]))
        print(json.dumps(res))
        return 0 if lres["found"] == lookups and \
            wres["acked"] == writes else 1
    finally:
        if store is not None:
            store.terminate()
            store.wait(timeout=30)
        pg.stop()
        subprocess.run(["rm", "-rf", run], check=False)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
