// The call's conversation as a chat (crm-ui.md §1.8): caller bubbles at the
// start (right), the agent's at the end (left). An agent turn shows what
// the caller actually HEARD in normal weight, then what was generated but
// never played in muted strikethrough, with a "נקטע" chip at the cut; the
// caller turn that cut it gets "התפרץ". Each turn has its offset into the
// call and, for the agent, the response latency (end of the caller's
// speech → first agent audio) with the per-stage breakdown on hover.
// Turns are Hebrew by contract (dir="rtl" lang="he"; "auto" would flip a
// turn that starts with "OK"). New turns arriving live are announced by
// the role="log" region; the view follows them only when already at the
// bottom, else a "חדש ↓" pill appears.
import { useEffect, useLayoutEffect, useRef, useState } from 'react';
import type { CallEvent, Turn, TurnLatency } from '../api/types';
import { he } from '../he';
import { formatLatency, formatOffset } from '../lib/format';
import { Ltr } from './Ltr';

export interface HeardSplit {
  heard: string;
  unheard: string;
}

const squash = (s: string) => s.replace(/\s+/g, ' ').trim();

/** The heard part of a turn and, for the agent, the generated rest never played. */
export function splitTurn(t: Pick<Turn, 'speaker' | 'heard_text' | 'generated_text'>): HeardSplit {
  const heard = squash(t.heard_text ?? '');
  const gen = squash(t.generated_text ?? '');
  if (t.speaker !== 'agent' || gen === '') return { heard: heard || gen, unheard: '' };
  if (gen.startsWith(heard)) return { heard, unheard: gen.slice(heard.length).trim() };
  // Not a prefix (the writer trimmed differently): keep what was heard.
  return heard === '' ? { heard: '', unheard: gen } : { heard, unheard: '' };
}

/** End of the caller's speech → first agent audio, in ms, or null. */
export function responseMs(l: TurnLatency | null | undefined): number | null {
  if (!l) return null;
  const ff = l.first_frame_ms ?? -1;
  if (ff < 0) return null;
  const eot = l.end_of_turn_ms ?? -1;
  return eot >= 0 ? eot + ff : ff;
}

/** Latency class against thresholds (ms): good, slow, bad. */
export function latencyTone(ms: number, good = 1200, slow = 2000): 'good' | 'slow' | 'bad' {
  if (ms <= good) return 'good';
  return ms <= slow ? 'slow' : 'bad';
}

const EVENT_LABELS: Record<string, string> = he.callEvents;
const ADMIN_ONLY_EVENTS = new Set(['stt_dropped']);

type Row = { kind: 'turn'; turn: Turn; bargedIn: boolean; at: number } | { kind: 'event'; event: CallEvent; at: number };

/** Turns in order plus the notable events, placed by their offset into the call. */
export function transcriptRows(turns: readonly Turn[], events: readonly CallEvent[] = [], startedAt?: string | null, admin = false): Row[] {
  const sorted = [...turns].sort((a, b) => a.seq - b.seq);
  const rows: Row[] = sorted.map((turn, i) => {
    const prev = sorted[i - 1];
    const bargedIn = turn.speaker === 'caller' && prev !== undefined && prev.speaker === 'agent' && prev.interrupted;
    return { kind: 'turn', turn, bargedIn, at: turn.start_ms ?? Number.NaN };
  });
  const t0 = startedAt ? new Date(startedAt).getTime() : Number.NaN;
  for (const event of events) {
    if (!(event.type in EVENT_LABELS) || (!admin && ADMIN_ONLY_EVENTS.has(event.type))) continue;
    rows.push({ kind: 'event', event, at: new Date(event.at).getTime() - t0 });
  }
  // Stable merge: events go after the last turn that started before them.
  const turnRows = rows.filter((r) => r.kind === 'turn');
  const eventRows = rows.filter((r) => r.kind === 'event').sort((a, b) => a.at - b.at);
  const out: Row[] = [];
  let e = 0;
  for (const r of turnRows) {
    while (e < eventRows.length && Number.isFinite(r.at) && (eventRows[e]?.at ?? 0) < r.at) out.push(eventRows[e++] as Row);
    out.push(r);
  }
  while (e < eventRows.length) out.push(eventRows[e++] as Row);
  return out;
}

const toneClass = { good: 'text-success', slow: 'text-warning', bad: 'text-danger' } as const;

function LatencyChip({ latency }: { latency: TurnLatency | null }) {
  const ms = responseMs(latency);
  if (ms === null || !latency) return null;
  const detail = he.call.latencyDetail(formatLatency(latency.stt_ms), formatLatency(latency.llm_first_token_ms), formatLatency(latency.tts_ms));
  return (
    <span className={`text-xs ${toneClass[latencyTone(ms)]}`} title={detail} data-testid="latency">
      {he.call.latency} <Ltr className="tabular-nums">{formatLatency(ms)}</Ltr>
    </span>
  );
}

function TurnBubble({ turn, bargedIn }: { turn: Turn; bargedIn: boolean }) {
  const { heard, unheard } = splitTurn(turn);
  if (turn.speaker === 'system') {
    return (
      <li className="self-center text-xs text-subtle" data-testid="turn" data-speaker="system">
        <span dir="rtl" lang="he">
          {heard}
        </span>
      </li>
    );
  }
  const caller = turn.speaker === 'caller';
  return (
    <li
      className={`flex max-w-[85%] flex-col gap-1 ${caller ? 'self-start items-start' : 'self-end items-end'}`}
      data-testid="turn"
      data-speaker={turn.speaker}
      data-interrupted={turn.interrupted ? 'true' : 'false'}
      data-seq={turn.seq}
    >
      <div className="flex items-center gap-2 text-xs text-subtle">
        <span className="font-medium">{caller ? he.call.caller : he.call.agent}</span>
        {turn.start_ms !== null && (
          <Ltr className="tabular-nums" testId="offset">
            {formatOffset(turn.start_ms)}
          </Ltr>
        )}
        {bargedIn && (
          <span className="rounded-full bg-warning/15 px-2 text-text" data-testid="barged-in">
            {he.call.bargedIn}
          </span>
        )}
        {!caller && <LatencyChip latency={turn.latency} />}
      </div>
      <p dir="rtl" lang="he" className={`rounded-lg px-3 py-2 ${caller ? 'rounded-ss-sm bg-caller' : 'rounded-se-sm bg-agent'}`}>
        {heard && <span data-testid="heard">{heard}</span>}
        {turn.source === 'recording' && (
          <span className="mx-1 inline-block rounded-full bg-subtle/10 px-2 align-middle text-xs text-subtle" data-testid="from-recording">
            {he.call.fromRecording}
          </span>
        )}
        {turn.interrupted && (
          <span className="mx-1 inline-block rounded-full bg-danger/10 px-2 align-middle text-xs text-danger" data-testid="interrupted">
            {he.call.interrupted}
          </span>
        )}
        {unheard && (
          <del className="text-subtle" data-testid="unheard" title={he.call.notHeard}>
            {unheard}
          </del>
        )}
      </p>
    </li>
  );
}

export interface TranscriptProps {
  turns: readonly Turn[];
  events?: readonly CallEvent[];
  startedAt?: string | null;
  admin?: boolean;
}

export function Transcript({ turns, events = [], startedAt, admin = false }: TranscriptProps) {
  const rows = transcriptRows(turns, events, startedAt, admin);
  const box = useRef<HTMLOListElement>(null);
  const atBottom = useRef(true);
  const [newBelow, setNewBelow] = useState(false);
  const count = rows.length;

  useLayoutEffect(() => {
    const el = box.current;
    if (!el) return;
    if (atBottom.current) el.scrollTop = el.scrollHeight;
    else setNewBelow(true);
  }, [count]);

  useEffect(() => {
    const el = box.current;
    if (!el) return undefined;
    const onScroll = () => {
      atBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < 24;
      if (atBottom.current) setNewBelow(false);
    };
    el.addEventListener('scroll', onScroll);
    return () => el.removeEventListener('scroll', onScroll);
  }, []);

  if (rows.length === 0) return <p className="p-4 text-subtle" data-testid="transcript-empty">{he.call.noTurns}</p>;
  return (
    <div className="relative">
      <ol ref={box} role="log" aria-live="polite" aria-label={he.call.transcript} className="flex max-h-[70vh] flex-col gap-3 overflow-y-auto p-4" data-testid="transcript">
        {rows.map((r) =>
          r.kind === 'turn' ? (
            <TurnBubble key={`t${r.turn.seq}`} turn={r.turn} bargedIn={r.bargedIn} />
          ) : (
            <li key={`e${r.event.id}`} className="self-center rounded-full bg-muted px-3 py-0.5 text-xs text-subtle" data-testid="call-event" data-type={r.event.type}>
              {EVENT_LABELS[r.event.type]}
              {Number.isFinite(r.at) && (
                <>
                  {' · '}
                  <Ltr className="tabular-nums">{formatOffset(r.at)}</Ltr>
                </>
              )}
            </li>
          ),
        )}
      </ol>
      {newBelow && (
        <button
          type="button"
          className="btn btn-primary absolute bottom-3 start-1/2 -translate-x-1/2 rtl:translate-x-1/2"
          onClick={() => {
            const el = box.current;
            if (el) el.scrollTop = el.scrollHeight;
            setNewBelow(false);
          }}
        >
          {he.call.newTurns}
        </button>
      )}
    </div>
  );
}
