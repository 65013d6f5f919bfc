#!/usr/bin/env python3
"""msgtool round-trips every message type through a real nanomsg socket.

Why: msgtool is how tests and operators drive one daemon without the
others, so what it sends must be exactly what arrives. For every type in
common/msg.h (msgtool types) one message with header fields, a Hebrew
JSON payload and an audio blob goes from `msgtool send` (PUSH, connect) to
`msgtool recv` (PULL, bind) over ipc:// and must come back field for
field. Then bad input: an unknown type, a payload that is not an object
and bad base64 are refused with exit 1 and a message naming the problem,
and a receiver that gets nothing exits 3.
"""
import base64
import json
import os
import subprocess
import sys
import time

BIN = os.environ["MERKAZIA_BIN"]
RUN = os.environ["MERKAZIA_RUN_DIR"]
MULT = float(os.environ.get("MERKAZIA_TEST_TIMEOUT_MULT", "1"))
MSGTOOL = os.path.join(BIN, "msgtool")
ADDR = "ipc://%s/rt.sock" % RUN


def fail(why):
    print("FAIL:", why)
    sys.exit(1)


types = subprocess.run([MSGTOOL, "types"], check=True, capture_output=True,
                       text=True).stdout.split()
if len(types) < 20 or "STT_JOB" not in types or "HEARTBEAT" not in types:
    fail("msgtool types listed %r" % types)

sent = []
for i, t in enumerate(types):
    blob = bytes((i + k) % 256 for k in range(160 + i))
    sent.append({
        "type": t, "job_id": 1000 + i, "generation": i, "budget_ms": 2500,
        "attempt": 1 + i % 3, "flags": i % 8,
        "reply": "ipc://%s/results.sock" % RUN, "call_sid": "CA%032x" % i,
        "payload": {"text": "שלום, מה שלומך? %d" % i, "n": i,
                    "nested": {"rooms": 3.5, "price": "₪1,200,000"}},
        "blob_base64": base64.b64encode(blob).decode(),
    })

timeout_ms = str(int(10000 * MULT))
recv = subprocess.Popen([MSGTOOL, "recv", "-b", ADDR, "-n", str(len(sent)),
                         "-t", timeout_ms], stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE, text=True)
time.sleep(0.2)
t0 = time.monotonic()
send = subprocess.run([MSGTOOL, "send", "-c", ADDR, "-t", timeout_ms] +
                      [json.dumps(m, ensure_ascii=False) for m in sent],
                      capture_output=True, text=True)
if send.returncode != 0:
    recv.kill()
    fail("msgtool send exited %d: %s" % (send.returncode, send.stderr))
out, err = recv.communicate(timeout=30 * MULT)
print("round trip of %d messages took %.3f s" % (len(sent),
                                                  time.monotonic() - t0))
if recv.returncode != 0:
    fail("msgtool recv exited %d: %s" % (recv.returncode, err))
got = [json.loads(line) for line in out.splitlines() if line.strip()]
if len(got) != len(sent):
    fail("sent %d messages, received %d" % (len(sent), len(got)))
for s, g in zip(sent, got):
    if s != g:
        fail("message differs:\n sent %s\n  got %s" % (s, g))
print("all %d types round-tripped field for field" % len(sent))

# Bad input is refused before anything is sent.
for bad, needle in [
        ('{"type":"NO_SUCH_TYPE"}', "unknown type"),
        ('{"type":"STT_JOB","payload":[1,2]}', "payload must be an object"),
        ('{"type":"STT_JOB","blob_base64":"***"}', "not base64"),
        ('{"type":"STT_JOB","call_sid":"has space"}', "call SID"),
        ('not json', "not JSON")]:
    r = subprocess.run([MSGTOOL, "send", "-c", ADDR, "-t", "500", bad],
                       capture_output=True, text=True)
    if r.returncode != 1 or needle not in r.stderr:
        fail("bad message %s: exit %d, stderr %r" % (bad, r.returncode,
                                                      r.stderr))
print("bad messages refused with a reason")

# A receiver that gets nothing says so with exit 3.
r = subprocess.run([MSGTOOL, "recv", "-b", "ipc://%s/empty.sock" % RUN,
                    "-t", "300"], capture_output=True, text=True)
if r.returncode != 3 or r.stdout:
    fail("empty recv: exit %d, output %r" % (r.returncode, r.stdout))
print("empty receive exits 3")
