#!/usr/bin/env python3
"""Scenario: the Record fallback's recording becomes turns of the call.
The whole stack (real PostgreSQL with the demo business, the six daemons,
strict stand-ins following tests/scenarios/short_buyer.json; the
watchdog with MERKAZIA_PUBLIC_URL, start timeout 1.5 s).
  1. A call whose stream never starts (sim-caller --no-start): the
     watchdog redirects it at fake-twilio (Record fallback).
  2. fake-twilio holds the caller's message (the scenario's first line,
     rendered like the simulated caller's speech); the scenario posts
     Twilio's signed recordingStatusCallback to the gateway: the gateway
     answers 204, fetches the media from fake-twilio with HTTP Basic
     auth, and PostgreSQL gets a caller turn (seq 1000) whose heard text
     is the line, with source "recording"; the call row gets
     recording_url and fallback_used, and the analysis' summary. The
     call had live turns before its stream died (two rows put in
     PostgreSQL, as a stream that died mid-call leaves them): the
     analysis request fake-openai receives holds them, then the
     recording's words (the gateway asks crm-store's call_by_sid).
  3. A second recording of the same call whose RecordingUrl is on a
     foreign host (fake-openai's address): that host receives nothing;
     the gateway fetches the URL rebuilt from the RecordingSid under
     TWILIO_API_BASE_URL instead, and the turn is written the same way
     (the same seq: the callback is idempotent).
  4. A recording of a call this gateway never saw (its row and a live
     turn put in PostgreSQL, as another gateway or one before a restart
     leaves them): the call row gets recording_url and fallback_used
     once crm-store's call_by_sid names the business, and the analysis
     request again holds the live turn and the recording's words.
Prints the delays; asserts order and outcome.
Why: the fallback exists to save the caller's request; a recording that
never reaches the CRM loses it anyway, and Twilio's credentials must
never go to a host a forged or broken callback names."""
import json
import os
import sys
import time

sys.path.insert(0, os.environ["MERKAZIA_E2E_LIB"])
import conv_e2e  # noqa: E402
import e2e  # noqa: E402
import watchdog_e2e as wd  # noqa: E402
from e2e import T, check  # noqa: E402

SEQ = 1000
LIVE_CALLER = "אני מחפש דירת ארבעה חדרים בגבעתיים"
LIVE_AGENT = "בשמחה, מה התקציב שלך?"
LIVE_OTHER = "התקשרתי אתמול לגבי הדירה ברחוב הרצל"


def turn_rows(stack, sid):
    return json.loads(conv_e2e.sql(
        stack, "SELECT coalesce(json_agg(t ORDER BY t.seq), '[]') FROM "
        "(SELECT seq, speaker, heard_text, latency, source FROM turns WHERE "
        "call_sid = '%s') t" % sid))


def call_row(stack, sid):
    out = conv_e2e.sql(
        stack, "SELECT row_to_json(c) FROM (SELECT status, recording_url, "
        "fallback_used, summary FROM calls WHERE call_sid = '%s') c" % sid)
    return json.loads(out) if out else None


def wait_turn(stack, sid, timeout):
    return e2e.wait_for(
        lambda: [t for t in turn_rows(stack, sid) if t["seq"] == SEQ],
        T(timeout), "the recording's turn of %s in PostgreSQL" % sid,
        interval=0.2)[0]


def fetches(tw, rec_sid):
    return [r for r in tw.control("GET", "requests")["requests"]
            if r.get("method") == "GET" and
            rec_sid in (r.get("path") or "")]


def analysis_requests(stack):
    """The user message of every analysis (structured) chat request."""
    out = []
    for r in conv_e2e.openai_requests(stack, "/v1/chat/completions"):
        body = r.get("body") or {}
        if not isinstance(body, dict) or \
                (body.get("response_format") or {}).get("type") != \
                "json_schema":
            continue
        out.append(" ".join(m.get("content") or "" for m in
                            body.get("messages") or []
                            if isinstance(m, dict) and
                            m.get("role") == "user" and
                            isinstance(m.get("content"), str)))
    return out


def scenario():
    stack = wd.conv_start()
    tw = wd.Twilio(stack)
    line = conv_e2e.lines()[0]
    wpm = conv_e2e.scenario()["caller"].get("wpm", 170)

    # 1. The stream never starts: the watchdog redirects to <Record>.
    p = wd.sim_caller_start(stack, "sim-caller-no-start", "--scenario",
                            conv_e2e.SCENARIO, "--no-start",
                            "--hangup-after", "4000")
    sid = e2e.wait_for(lambda: wd.first_call_sid(stack), T(15),
                       "the watchdog to watch the call")
    wd.wait_decision(stack, sid, "redirected",
                     wd.START_TIMEOUT_MS / 1000 + 15)
    wd.sim_caller_wait(p)
    ups = tw.updates(sid)
    check(len(ups) == 1, "%d updates for the call" % len(ups))
    wd.check_record_update(ups[0], sid, tw)

    # The live part of the call, as a stream that died mid-call leaves
    # it in PostgreSQL (the gateway wrote these turns as they happened).
    conv_e2e.sql(stack, "INSERT INTO turns (call_sid, seq, speaker, "
                 "heard_text) VALUES ('%s', 1, 'caller', '%s'), "
                 "('%s', 2, 'agent', '%s')" % (sid, LIVE_CALLER, sid,
                                               LIVE_AGENT))

    # 2. The caller's message arrives through the status callback.
    rec = tw.control("POST", "recordings", {"text": line["say"],
                                            "call_sid": sid, "wpm": wpm})
    t0 = time.monotonic()
    code = wd.post_twilio(stack, "/twilio/recording-status",
                          wd.recording_status_form(tw, sid, rec))
    check(code == 204, "recording-status answered %d" % code)
    turn = wait_turn(stack, sid, 30)
    e2e.delay("recording callback -> turn in PostgreSQL",
              time.monotonic() - t0)
    want = line.get("text", line["say"])
    check(turn["speaker"] == "caller" and turn["heard_text"] == want,
          "the recording's turn: %s" % turn)
    check(turn["source"] == "recording" and
          (turn["latency"] or {}).get("recording_sid") == rec["sid"],
          "the turn does not say it came from the recording: %s, %s" %
          (turn["source"], turn["latency"]))
    got = fetches(tw, rec["sid"])
    check(len(got) == 1 and got[0]["status"] == 200,
          "fake-twilio saw %d fetch(es) of the recording: %s" %
          (len(got), [g.get("status") for g in got]))
    check(got[0]["headers"].get("Authorization", "").startswith("Basic "),
          "the recording was fetched without Basic auth")
    row = e2e.wait_for(
        lambda: (lambda c: c if c and c.get("summary") else None)(
            call_row(stack, sid)), T(30),
        "the call's analysis after the recording", interval=0.3)
    e2e.delay("recording callback -> analysis in PostgreSQL",
              time.monotonic() - t0)
    check(row["recording_url"] == rec["url"] and row["fallback_used"],
          "call row: recording_url %s, fallback_used %s" %
          (row["recording_url"], row["fallback_used"]))
    check(row["summary"] == conv_e2e.scenario()["analysis"]["summary"],
          "the summary is not the analysis': %s" % row["summary"])
    # The analysis saw the whole call: the live turns, then the recording.
    head = want[:12]
    seen = analysis_requests(stack)
    whole = [u for u in seen if LIVE_CALLER in u and LIVE_AGENT in u and
             head in u and u.index(LIVE_CALLER) < u.index(LIVE_AGENT) <
             u.rindex(head)]
    check(len(whole) == 1, "no analysis request with the live turns then "
          "the recording's words (%d analysis request(s)): %s" %
          (len(seen), [u[:200] for u in seen]))
    e2e.say("the analysis request holds the live turns and the recording")

    # 3. A RecordingUrl on a foreign host is never contacted.
    foreign = stack.settings["OPENAI_BASE_URL"]
    if foreign.endswith("/v1"):
        foreign = foreign[:-3]
    rec2 = tw.control("POST", "recordings", {"text": line["say"],
                                             "call_sid": sid, "wpm": wpm})
    bad_url = "%s/2010-04-01/Accounts/%s/Recordings/%s" % (
        foreign.rstrip("/"), tw.account, rec2["sid"])
    code = wd.post_twilio(stack, "/twilio/recording-status",
                          wd.recording_status_form(tw, sid, rec2, bad_url))
    check(code == 204, "recording-status answered %d" % code)
    e2e.wait_for(lambda: fetches(tw, rec2["sid"]), T(15),
                 "the gateway to fetch the rebuilt recording URL")
    e2e.wait_for(
        lambda: any("recording %s:" % rec2["sid"] in (ln.get("msg") or "")
                    and "turn(s) written" in ln["msg"]
                    for ln in stack.log("gateway")), T(30),
        "the second recording's turns to be written")
    got = fetches(tw, rec2["sid"])
    check(len(got) == 1 and got[0]["path"].endswith(rec2["sid"] + ".wav") and
          got[0]["headers"].get("Authorization", "").startswith("Basic "),
          "the rebuilt fetch: %s" % [(g["path"], g.get("status")) for g in
                                     got])
    leaked = [r for r in conv_e2e.control(stack, "OPENAI_BASE_URL",
                                          "requests")["requests"]
              if rec2["sid"] in (r.get("path") or "") or
              "Recordings" in (r.get("path") or "")]
    check(not leaked, "the foreign host was contacted: %s" % leaked)
    check(any("is not under" in (ln.get("msg") or "")
              for ln in stack.log("gateway")),
          "no log line about the foreign recording URL")
    turns = [t for t in turn_rows(stack, sid) if t["seq"] >= SEQ]
    check(len(turns) == 1 and turns[0]["heard_text"] == want,
          "recording turns after the second callback: %s" % turns)

    # 4. A call this gateway never saw: crm-store knows it.
    other = "CA" + "%032x" % int(time.time() * 1e6)
    conv_e2e.sql(stack, "INSERT INTO calls (call_sid, business_id, "
                 "from_number, to_number, status) VALUES ('%s', 1, "
                 "'+972501234999', '+97235550100', 'in-progress')" % other)
    conv_e2e.sql(stack, "INSERT INTO turns (call_sid, seq, speaker, "
                 "heard_text) VALUES ('%s', 1, 'caller', '%s')" %
                 (other, LIVE_OTHER))
    rec3 = tw.control("POST", "recordings", {"text": line["say"],
                                             "call_sid": other, "wpm": wpm})
    code = wd.post_twilio(stack, "/twilio/recording-status",
                          wd.recording_status_form(tw, other, rec3))
    check(code == 204, "recording-status answered %d" % code)
    wait_turn(stack, other, 30)
    e2e.wait_for(
        lambda: [u for u in analysis_requests(stack)
                 if LIVE_OTHER in u and head in u and
                 u.index(LIVE_OTHER) < u.rindex(head)], T(30),
        "the analysis of the unseen call with its live turn")
    row = call_row(stack, other)
    check(row["recording_url"] == rec3["url"] and row["fallback_used"],
          "the unseen call's row: %s" % row)
    e2e.say("a call this gateway never saw: row and analysis from "
            "crm-store's call_by_sid")

    # No warning or error at the gateway about this call but the foreign
    # URL's.
    bad = [ln for ln in stack.log("gateway")
           if ln.get("level") in ("error",) and ln.get("call_sid") == sid]
    bad += [ln for ln in stack.log("gateway")
            if ln.get("level") in ("warn", "error") and
            ln.get("call_sid") == other]
    check(not bad, "gateway errors for the call: %s" %
          [ln.get("msg") for ln in bad])
    code, report = stack.stop()
    check(code == 0 and report["ok"], "the stack did not stop cleanly: %s" %
          report.get("problems"))


e2e.main(scenario)
