#!/usr/bin/env python3
"""Scenario: a known caller is greeted by name. The conversation stack
(demo business) with a customer seeded in PostgreSQL (name 'דני לוי',
phone +972529876543) and one earlier call of theirs with a summary; the
caller says tests/scenarios/handoff.json's 'bye' line and the scripted
agent ends the call (end_call).
Asserts: fake-google was asked to synthesize "שלום דני, טוב לשמוע ממך
שוב." (the first name only); the gateway queued it right behind the
generic greeting, and sim-caller played its mark fully, after the
greeting's mark and before the reply's; the chat request's system prompt
holds the customer's name and the earlier call's summary; the goodbye
played, the gateway closed the stream, and the call row is completed
with its duration; no warning at the gateway for the call.
Why: issue #10's caller-ID: the gateway holding the stream looks the
caller up itself (the webhook may have reached another gateway), and a
returning customer should hear that they are known."""
import json
import os
import sys

sys.path.insert(0, os.environ["MERKAZIA_E2E_LIB"])
import conv_e2e  # noqa: E402
import e2e  # noqa: E402
import handoff_e2e as ho  # noqa: E402
from e2e import check  # noqa: E402

CALLER = "+972529876543"
SUMMARY = "דני חיפש דירת שלושה חדרים ברמת גן."
OLD_SID = "CA" + "7" * 32


def seed(stack):
    conv_e2e.sql(stack, (
        "INSERT INTO customers (business_id, phone, name) VALUES "
        "(1, '%s', 'דני לוי'); "
        "INSERT INTO calls (call_sid, business_id, customer_id, "
        "from_number, to_number, status, started_at, ended_at, duration_s, "
        "summary) SELECT '%s', 1, id, '%s', '%s', 'completed', "
        "now() - interval '3 days', now() - interval '3 days', 95, '%s' "
        "FROM customers WHERE business_id = 1 AND phone = '%s'") %
        (CALLER, OLD_SID, CALLER, ho.BUSINESS_NUMBER, SUMMARY, CALLER))


def scenario():
    stack = ho.start()
    seed(stack)
    call = ho.say_call(stack, "sim-caller-known", "bye", CALLER)
    sid = call["call_sid"]
    marks = [m["name"] for m in call["marks"]]
    ho.check_gateway_ended(
        call, "the gateway did not end the call after the goodbye")

    # The sentence was synthesized from the first name.
    want = "שלום דני, טוב לשמוע ממך שוב."
    tts = [r for r in ho.tts_requests(stack)
           if want in json.dumps(r, ensure_ascii=False)]
    check(len(tts) == 1, "fake-google was asked %d times for %r" %
          (len(tts), want))
    check(not [r for r in ho.tts_requests(stack)
               if "לוי" in json.dumps(r, ensure_ascii=False)],
          "the surname was synthesized")

    # Queued behind the greeting; heard after it, before the reply.
    q = [ln for ln in ho.gateway_lines(stack, sid) if "personal greeting "
         "queued" in (ln.get("msg") or "")]
    check(len(q) == 1, "the gateway did not queue the personal greeting: "
          "%s" % [ln.get("msg") for ln in ho.gateway_lines(stack, sid)
                  if "greeting" in (ln.get("msg") or "")])
    mark = q[0]["msg"].split("(mark ")[1].split(",")[0]
    check(mark in marks, "mark %s never reached the caller (%s)" %
          (mark, marks))
    i = marks.index(mark)
    check(i == 1 and call["marks"][i]["played"],
          "the personal greeting's mark %s is #%d of %s, played %s" %
          (mark, i, marks, call["marks"][i]["played"]))
    check(call["marks"][0]["echo_ms"] <= call["marks"][1]["echo_ms"],
          "the personal greeting played before the greeting")
    check(len(marks) >= 4, "no reply and goodbye after the greetings: %s" %
          marks)

    # The prompt knew the caller.
    chats = conv_e2e.openai_requests(stack, "/v1/chat/completions")
    tails = [((r.get("chat") or {}).get("system_tail") or "") for r in chats
             if (r.get("chat") or {}).get("line") == "bye"]
    check(tails, "no chat request for the caller's line")
    check("דני לוי" in tails[0] and "רמת גן" in tails[0],
          "the system prompt lacks the customer's name or history: ...%s" %
          tails[0][-400:])

    row = ho.call_row(stack, sid, "completed")
    e2e.say("call row: %s" % row)
    check(row["duration_s"] is not None and row["ended_at"],
          "the completed call has no duration or end: %s" % row)
    ho.check_no_warnings(stack, sid)
    code, report = stack.stop()
    check(code == 0 and report["ok"], "the stack did not stop cleanly: %s" %
          report.get("problems"))


e2e.main(scenario)
