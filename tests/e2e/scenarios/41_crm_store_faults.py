#!/usr/bin/env python3
"""Nothing said is lost: crm-store and its client through failures.

Why: the prototype lost calls silently. Each case sends a stream of writes
through common/store.c (tools/store-load, the client every daemon links),
breaks something in the middle, and counts rows in PostgreSQL:
  1. PostgreSQL restarted in the middle of 1,000 writes -> exactly 1,000
     rows (crm-store spools while the database is away and applies its
     spool when it is back);
  2. crm-store SIGKILLed in the middle of 1,000 writes and restarted ->
     exactly 1,000 rows (the client re-sends what was not acknowledged);
  3. crm-store down while a sender writes 500; the sender is SIGKILLed as
     soon as it reports all 500 spooled, then restarted (it replays its
     spool) and crm-store started -> exactly 500 rows.
Every wait is on a count the programs report, bounded in time.
"""
import os
import signal
import sys
import time

sys.path.insert(0, os.environ["MERKAZIA_E2E_LIB"])
import crmstore  # noqa: E402
from crmstore import check, say  # noqa: E402


def turns(env, sid):
    return env.count("turns", "call_sid = '%s'" % sid)


def scenario(env):
    env.start()

    # 1. PostgreSQL restarted mid-stream.
    t0 = time.monotonic()
    ld = env.loader("-n", 1000, "-r", 400, "-c", "CApg")
    ld.wait_count("acked", 250, 20)
    env.pg_stop()
    say("PostgreSQL stopped after %d acknowledged" % ld.poll()["acked"])
    time.sleep(0.5)  # writes keep coming while it is down
    env.pg_start()
    code, last = ld.finish(40)
    check(code == 0, "store-load exited %d: %r" % (code, last))
    crmstore.wait_for(lambda: turns(env, "CApg") == 1000, 10,
                      "1000 rows (have %d)" % turns(env, "CApg"))
    st = env.stats()
    check(st["spool_pending"] == 0, "crm-store spool not applied: %r" % st)
    say("PostgreSQL restart: 1000 rows, %d went through crm-store's spool "
        "(%.1f s)" % (st["counters"]["spooled"], time.monotonic() - t0))

    # 2. crm-store SIGKILLed mid-stream.
    t0 = time.monotonic()
    ld = env.loader("-n", 1000, "-r", 400, "-c", "CAkill")
    ld.wait_count("acked", 250, 20)
    env.stop_store(signal.SIGKILL)
    say("crm-store killed after %d acknowledged" % ld.poll()["acked"])
    env.start_store()
    code, last = ld.finish(40)
    check(code == 0, "store-load exited %d: %r" % (code, last))
    n = turns(env, "CAkill")
    check(n == 1000, "crm-store SIGKILL: %d rows, want 1000" % n)
    say("crm-store SIGKILL: 1000 rows; client re-sent %d, spooled %d "
        "(%.1f s)" % (last["resent"], last["spooled"],
                      time.monotonic() - t0))

    # 3. crm-store down; the sender spools 500 and is killed.
    t0 = time.monotonic()
    env.stop_store()
    spool = os.path.join(env.dir, "state", "spool", "sender-1")
    ld = env.loader("-n", 500, "-c", "CAspool", spool=spool)
    ld.wait_count("spooled", 500, 20, "the sender to spool all 500")
    ld.proc.kill()
    ld.proc.wait()
    check(os.path.getsize(spool) > 0, "the spool file is empty")
    env.start_store()
    ld = env.loader("-n", 0, spool=spool)  # the restarted sender
    code, last = ld.finish(40)
    check(code == 0 and last["loaded"] == 500 and last["acked"] == 500,
          "replay: exit %d, %r" % (code, last))
    n = turns(env, "CAspool")
    check(n == 500, "sender spool: %d rows, want 500" % n)
    check(os.path.getsize(spool) == 0, "the spool was not emptied")
    say("sender killed with 500 spooled, restarted: 500 rows (%.1f s)" %
        (time.monotonic() - t0))


crmstore.main(scenario)
