#!/usr/bin/env python3
"""Scenario: the Twilio REST stand-in (tools/fake-twilio) refuses what
Twilio refuses, knows when a call is gone, and serves recordings.

Why: common/twilio_rest.c (transfers, hang-ups, the watchdog's redirect to
Record, messages, recording fetches) is only as well tested as the double
it talks to. Checked, talking HTTP to it as the client does:
  auth: a wrong token, no Authorization and another account in the path
  get 401 {"code": 20003} with WWW-Authenticate; the token is in no log
  and the record shows "Basic (redacted)".
  calls: a JSON body, none or two of Twiml/Url/Status, a relative Url
  are 400; TwiML that is not XML (12100), not rooted at <Response>
  (12102), has an unknown verb or attribute or a Polly voice for he-IL
  (12200), a <Record> without action (11100) or over 4000 characters
  (32018) is refused with Twilio's error shape; good TwiML on a live call
  answers the Call JSON and is recorded whole; <Hangup/> ends the call,
  after which Twiml gets 400 21220 and Status=completed 404 20404; with
  implicit calls off an unknown call is 404 20404.
  messages: SMS and WhatsApp get 201 with an SM sid, "queued" and the
  UCS-2 segment count for Hebrew; mixed channels 21910, no Body 21602,
  over 1600 characters 21617.
  recordings: a Hebrew text given on the control endpoint is served as an
  8 kHz 16-bit WAV of plausible length at the RecordingUrl (and .wav), its
  JSON resource at .json; media without auth is 401 and an unknown one
  404, both as Twilio's XML RestException.
  faults: 500, 429 with Retry-After and a hang, on demand; it stops with
  exit 0 on SIGTERM.
"""
import base64
import json
import os
import secrets
import sys
import time
import urllib.parse

sys.path.insert(0, os.environ["MERKAZIA_E2E_LIB"])
import e2e  # noqa: E402
import standins  # noqa: E402
from e2e import check  # noqa: E402

AC = "AC" + secrets.token_hex(16)
TOKEN = "tok" + secrets.token_hex(16)
CA = "CA" + secrets.token_hex(16)
API = "/2010-04-01/Accounts/" + AC
SAY = '<Say language="he-IL" voice="Google.he-IL-Wavenet-A">%s</Say>'
RECORD = ('<Record action="https://gw.example.co.il/twilio/recording" '
          'method="POST" maxLength="120" playBeep="true" '
          'recordingStatusCallback="https://gw.example.co.il/twilio/'
          'recording-status" recordingStatusCallbackMethod="POST" '
          'recordingStatusCallbackEvent="completed"/>')


def basic(sid=AC, token=TOKEN):
    return "Basic " + base64.b64encode(
        ("%s:%s" % (sid, token)).encode()).decode()


class Client:
    def __init__(self, base):
        self.base = base

    def post(self, path, fields, auth=None, ctype=None, raw=None):
        hdrs = {"Content-Type": ctype or
                "application/x-www-form-urlencoded"}
        if auth is not False:
            hdrs["Authorization"] = auth or basic()
        body = raw if raw is not None else \
            urllib.parse.urlencode(fields).encode()
        code, hd, out = standins.http("POST", self.base + path, body, hdrs)
        try:
            return code, hd, json.loads(out)
        except ValueError:
            return code, hd, out

    def get(self, path, auth=None, timeout=20):
        hdrs = {} if auth is False else {"Authorization": auth or basic()}
        return standins.http("GET", self.base + path, None, hdrs, timeout)

    def update(self, sid, **fields):
        return self.post(API + "/Calls/%s.json" % sid, fields)


def twilio_error(out, status, code, label):
    check(isinstance(out, dict) and out.get("status") == status and
          out.get("code") == code and out.get("message") and
          out.get("more_info") ==
          "https://www.twilio.com/docs/errors/%d" % code,
          "%s: want %d/%d, got %s" % (label, status, code, out))


def scenario():
    env = dict(os.environ, TWILIO_ACCOUNT_SID=AC, TWILIO_AUTH_TOKEN=TOKEN)
    record = os.path.join(e2e.RUN_DIR, "log", "twilio.requests.log")
    st = standins.StandIn("fake-twilio", "--record", record, env=env)
    ready = st.start()
    check(ready.get("account_sid") == AC, "ready line: %s" % ready)
    try:
        run(st, Client(st.base))
    finally:
        code = st.stop()
    check(code == 0, "fake-twilio exited %s on SIGTERM" % code)
    for path in (st.log_path, record):
        with open(path, encoding="utf-8") as f:
            text = f.read()
        check(TOKEN not in text and basic()[6:] not in text,
              "the auth token is in %s" % path)
    e2e.say("no token in the log or the record; stopped with exit 0")


def run(st, c):
    call = API + "/Calls/%s.json" % CA
    # Auth.
    for label, kw in (("wrong token", {"auth": basic(token="x" * 34)}),
                      ("no Authorization", {"auth": False}),
                      ("bearer", {"auth": "Bearer " + TOKEN})):
        code, hd, out = c.post(call, {"Status": "completed"}, **kw)
        check(code == 401 and "Basic" in hd.get("www-authenticate", ""),
              "%s: %d %s" % (label, code, hd))
        twilio_error(out, 401, 20003, label)
    other = "AC" + secrets.token_hex(16)
    code, _, out = c.post("/2010-04-01/Accounts/%s/Calls/%s.json" %
                          (other, CA), {"Status": "completed"})
    twilio_error(out, 401, 20003, "another account in the path")
    e2e.say("auth: wrong token, none, Bearer, other account -> 401 20003")

    # Calls: request shape.
    st.control("POST", "calls", {"sid": CA, "status": "in-progress",
                                 "from": "+972501234567",
                                 "to": "+97233333333"})
    code, _, out = c.post(call, None, ctype="application/json",
                          raw=json.dumps({"Status": "completed"}).encode())
    check(code == 400, "JSON body: %d %s" % (code, out))
    code, _, out = c.update(CA)
    check(code == 400 and "Exactly one" in out.get("message", ""),
          "no parameter: %d %s" % (code, out))
    code, _, out = c.update(CA, Twiml="<Response><Hangup/></Response>",
                            Status="completed")
    check(code == 400 and "Exactly one" in out.get("message", ""),
          "Twiml and Status: %d %s" % (code, out))
    code, _, out = c.update(CA, Url="/twilio/fallback")
    twilio_error(out, 400, 21205, "relative Url")

    # Calls: bad TwiML.
    for label, twiml, want in (
            ("not XML", "<Response><Say>שלום</Response>", 12100),
            ("plain text", "שלום", 12100),
            ("root not Response", "<Say>שלום</Say>", 12102),
            ("unknown verb", "<Response><Gather/></Response>", 12200),
            ("unknown attribute", '<Response><Hangup reason="x"/>'
             '</Response>', 12200),
            ("bad maxLength", '<Response><Record action="https://g/r" '
             'maxLength="1"/></Response>', 12200),
            ("Polly for Hebrew", '<Response><Say language="he-IL" '
             'voice="Polly.Joanna">שלום</Say></Response>', 12200),
            ("Stream over ws://", '<Response><Connect><Stream '
             'url="ws://gw/twilio/media"/></Connect></Response>', 12200),
            ("Record without action", "<Response><Record maxLength=\"60\"/>"
             "</Response>", 11100),
            ("over 4000 characters", "<Response>" + SAY % ("א" * 4000) +
             "</Response>", 32018)):
        code, _, out = c.update(CA, Twiml=twiml)
        twilio_error(out, 400, want, label)
    e2e.say("calls: 4 bad request shapes and 10 kinds of bad TwiML refused")

    # Calls: good TwiML, then the call is gone.
    twiml = "<Response>" + SAY % "לא שמעתי אותך. נא להשאיר הודעה." + \
        RECORD + "</Response>"
    code, _, out = c.update(CA, Twiml=twiml)
    check(code == 200 and out.get("sid") == CA and
          out.get("status") == "in-progress" and
          out.get("account_sid") == AC, "Say+Record: %d %s" % (code, out))
    recs = st.requests(call)
    check(recs and recs[-1].get("twiml") == twiml and
          recs[-1].get("verbs") == ["Say", "Record"] and
          recs[-1]["headers"].get("Authorization") == "Basic (redacted)",
          "the record of the update: %s" % (recs[-1:],))
    code, _, out = c.update(CA, Url="https://gw.example.co.il/twilio/x",
                            Method="POST")
    check(code == 200 and out["status"] == "in-progress",
          "Url: %d %s" % (code, out))
    code, _, out = c.update(CA, Twiml="<Response>" + SAY % "להתראות" +
                            "<Hangup/></Response>")
    check(code == 200 and out["status"] == "completed",
          "Say+Hangup: %d %s" % (code, out))
    code, _, out = c.update(CA, Twiml="<Response>" + RECORD + "</Response>")
    twilio_error(out, 400, 21220, "Twiml on a completed call")
    code, _, out = c.update(CA, Status="completed")
    twilio_error(out, 404, 20404, "hang-up of a completed call")
    calls = st.control("GET", "calls")["calls"]
    mine = [x for x in calls if x["sid"] == CA]
    check(mine and mine[0]["status"] == "completed" and
          [u["what"] for u in mine[0]["updates"]] ==
          ["Twiml", "Url", "Twiml"], "call state: %s" % mine)
    implicit = "CA" + secrets.token_hex(16)
    code, _, out = c.update(implicit, Status="completed")
    check(code == 200 and out["status"] == "completed",
          "implicit call: %d %s" % (code, out))
    st.control("POST", "config", {"implicit_calls": False})
    code, _, out = c.update("CA" + secrets.token_hex(16),
                            Status="completed")
    twilio_error(out, 404, 20404, "unknown call, implicit calls off")
    st.control("POST", "config", {"implicit_calls": True})
    e2e.say("calls: good TwiML 200; after <Hangup/> 21220 and 20404; "
            "unknown call 20404")

    # Messages.
    msgs = API + "/Messages.json"
    body = "שלום! קיבלנו את פנייתך לגבי הדירה בתל אביב, נציג יחזור אליך " \
        "בהקדם. תודה רבה."
    for to, frm in (("+972501234567", "+97233333333"),
                    ("whatsapp:+972501234567", "whatsapp:+14155238886")):
        code, _, out = c.post(msgs, {"To": to, "From": frm, "Body": body})
        check(code == 201 and out.get("sid", "").startswith("SM") and
              out.get("status") == "queued" and out.get("to") == to and
              out.get("body") == body and out.get("num_segments") == "2",
              "message to %s: %d %s" % (to, code, out))
    for label, fields, want in (
            ("mixed channels", {"To": "whatsapp:+972501234567",
                                "From": "+97233333333", "Body": "x"}, 21910),
            ("no Body", {"To": "+972501234567", "From": "+97233333333"},
             21602),
            ("too long", {"To": "+972501234567", "From": "+97233333333",
                          "Body": "א" * 1601}, 21617),
            ("To not E.164", {"To": "0501234567", "From": "+97233333333",
                              "Body": "x"}, 21211)):
        code, _, out = c.post(msgs, fields)
        twilio_error(out, 400, want, label)
    sent = st.control("GET", "messages")["messages"]
    check(len(sent) == 2, "messages kept: %d" % len(sent))
    e2e.say("messages: SMS and WhatsApp 201 (2 UCS-2 segments); 4 kinds "
            "refused")

    # Recordings.
    t = time.monotonic()
    text = "שלום, אני מחפש דירת ארבעה חדרים ברמת גן, עד שלושה מיליון שקל."
    rec = st.control("POST", "recordings", {"text": text, "call_sid": CA})
    e2e.delay("recording rendered", time.monotonic() - t)
    check("error" not in rec and rec["url"].startswith(st.base + API +
                                                       "/Recordings/RE"),
          "recording: %s" % rec)
    path = rec["url"][len(st.base):]
    for suffix in ("", ".wav"):
        code, hd, wav = c.get(path + suffix)
        check(code == 200 and hd.get("content-type") == "audio/x-wav" and
              wav[:4] == b"RIFF" and wav[8:12] == b"WAVE",
              "media%s: %d %s" % (suffix, code, hd))
        rate = int.from_bytes(wav[24:28], "little")
        bits = int.from_bytes(wav[34:36], "little")
        secs = (len(wav) - 44) / (rate * bits / 8)
        check(rate == 8000 and bits == 16 and 2.0 < secs < 12.0,
              "media: %d Hz, %d bits, %.2f s" % (rate, bits, secs))
        check(len(set(wav[44:])) > 50, "the recording is not speech-like")
    code, _, out = c.get(path + ".json")
    meta = json.loads(out)
    check(code == 200 and meta["sid"] == rec["sid"] and
          meta["call_sid"] == CA and meta["status"] == "completed" and
          meta["duration"] == str(rec["duration"]),
          "resource: %d %s" % (code, meta))
    code, hd, out = c.get(path, auth=False)
    check(code == 401 and b"<Code>20003</Code>" in out and
          hd.get("content-type", "").startswith("application/xml"),
          "media without auth: %d %s" % (code, out[:200]))
    code, hd, out = c.get(API + "/Recordings/RE" + secrets.token_hex(16))
    check(code == 404 and b"<RestException><Code>20404</Code>" in out,
          "unknown recording: %d %s" % (code, out[:200]))
    e2e.say("recordings: %.1f s of Hebrew at the RecordingUrl and .wav, "
            ".json resource; 401 and 404 as XML" % secs)

    # Faults.
    st.fail(call, "500", 1)
    code, _, out = c.update(CA, Status="completed")
    twilio_error(out, 500, 20500, "injected 500")
    st.fail(msgs, "429", 1, retry_after=3)
    code, hd, out = c.post(msgs, {"To": "+972501234567",
                                  "From": "+97233333333", "Body": "x"})
    twilio_error(out, 429, 20429, "injected 429")
    check(hd.get("retry-after") == "3", "429 without Retry-After: %s" % hd)
    st.fail(path, "hang", 1)
    t = time.monotonic()
    try:
        c.get(path, timeout=0.5)
        raise e2e.Fail("a hung request was answered")
    except OSError:
        pass
    check(time.monotonic() - t >= 0.45, "the hang did not hold")
    code, _, _ = c.get(path)
    check(code == 200, "after the hang: %d" % code)
    e2e.say("faults: 500 (20500), 429 (20429, Retry-After), hang")


e2e.main(scenario)
