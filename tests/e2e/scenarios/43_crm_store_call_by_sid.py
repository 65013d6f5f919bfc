#!/usr/bin/env python3
"""crm-store's call_by_sid system query (what the recording path asks).

Why: the gateway's recording path (gateway/recording.c) asks crm-store
what it knows of a call whose media stream died, so the analysis sees the
live turns before the recording's and the call row gets the right
business after a gateway restart. Checked through the real wire protocol
(msgtool on the STORE endpoint) against a real PostgreSQL:
  * a known call answers {"call": {business_id, from, to, status,
    turns}} with its turns ordered by seq, each with speaker, heard_text
    and source (a recording's turn says "recording");
  * an unknown call SID answers {"call": null} (a reply, not an error);
  * a query without call_sid is refused as invalid, and serving goes on.
"""
import os
import sys

sys.path.insert(0, os.environ["MERKAZIA_E2E_LIB"])
import crmstore  # noqa: E402
from crmstore import check, say  # noqa: E402

SID = "CAcallbysid0001"


def w(kind, key, data):
    return {"type": "STORE_WRITE", "payload": {"kind": kind, "key": key,
                                               "data": data}}


def sysq(args):
    p = {"q": "call_by_sid"}
    if args is not None:
        p["args"] = args
    return {"type": "STORE_SYSQUERY", "payload": p}


def scenario(env):
    env.start()
    # Written out of order: the answer must sort them by seq.
    res = env.request(
        w("call", SID, {"call_sid": SID, "business_id": 1,
                        "direction": "inbound", "from": "+972501234567",
                        "to": "+97235550100", "status": "in-progress"}),
        w("turn", SID + ":1000", {"call_sid": SID, "seq": 1000,
                                  "speaker": "caller",
                                  "heard": "הודעה מההקלטה",
                                  "source": "recording"}),
        w("turn", SID + ":2", {"call_sid": SID, "seq": 2,
                               "speaker": "agent",
                               "heard": "בשמחה, כמה חדרים?"}),
        w("turn", SID + ":1", {"call_sid": SID, "seq": 1,
                               "speaker": "caller",
                               "heard": "אני מחפש דירה"}))
    check(all(r["type"] == "STORE_ACK" for r in res), "writes: %r" % res)

    res = env.request(sysq({"call_sid": SID}),
                      sysq({"call_sid": "CAnosuchcall0000"}),
                      sysq(None), sysq({"call_sid": SID}))
    check(res[0]["type"] == "STORE_REPLY", "known call: %r" % res[0])
    call = res[0]["payload"].get("call")
    check(isinstance(call, dict) and call["business_id"] == 1 and
          call["from"] == "+972501234567" and
          call["to"] == "+97235550100" and call["status"] == "in-progress",
          "known call: %r" % call)
    turns = [(t["seq"], t["speaker"], t["heard_text"], t["source"])
             for t in call["turns"]]
    check(turns == [(1, "caller", "אני מחפש דירה", "live"),
                    (2, "agent", "בשמחה, כמה חדרים?", "live"),
                    (1000, "caller", "הודעה מההקלטה", "recording")],
          "turns: %r" % turns)
    say("a known call answers its business, numbers and %d turns in order"
        % len(turns))
    check(res[1]["type"] == "STORE_REPLY" and
          "call" in res[1]["payload"] and res[1]["payload"]["call"] is None,
          "unknown call: %r" % res[1])
    say("an unknown call SID answers null")
    check(res[2]["type"] == "STORE_ERROR" and
          res[2]["payload"].get("error") == "invalid",
          "missing call_sid: %r" % res[2])
    check(res[3]["type"] == "STORE_REPLY" and
          res[3]["payload"].get("call") == call,
          "serving after the refusal: %r" % res[3])
    say("a query without call_sid is refused; serving goes on")


crmstore.main(scenario)
