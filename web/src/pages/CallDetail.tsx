// One call (crm-ui.md §1.8): the header (who, when, how long, status),
// the AI summary panel (summary, sentiment, lead score with its reasons,
// the requirements it extracted), the recording, and the chat transcript
// of heard vs generated text. Turns and the analysis of this call arrive
// live by SSE while it is in progress.
import type { ReactNode } from 'react';
import { Link } from 'wouter';
import { ApiError, api } from '../api/client';
import type { CallDetail as CallDetailData, Requirements, Turn } from '../api/types';
import { CallStatusBadge, ScoreBadge, SentimentBadge } from '../components/Badges';
import { Auto, Ltr, Phone } from '../components/Ltr';
import { ErrorState, Loading } from '../components/States';
import { Transcript, responseMs } from '../components/Transcript';
import { he } from '../he';
import { useAuth } from '../lib/auth';
import { useEvent } from '../lib/events';
import { formatBudget, formatDuration, formatLatency, formatLong, formatRooms } from '../lib/format';
import { useAsync } from '../lib/useAsync';

/** Insert or replace a turn by seq (SSE may repeat one; a re-send fills text). */
export function upsertTurn(turns: readonly Turn[], t: Turn): Turn[] {
  const i = turns.findIndex((x) => x.seq === t.seq);
  const next = i < 0 ? [...turns, t] : turns.map((x, j) => (j === i ? { ...x, ...t } : x));
  return next.sort((a, b) => a.seq - b.seq);
}

/** Median of the agent turns' response latencies, in ms, or null. */
export function medianResponse(turns: readonly Turn[]): number | null {
  const xs = turns
    .filter((t) => t.speaker === 'agent')
    .map((t) => responseMs(t.latency))
    .filter((x): x is number => x !== null)
    .sort((a, b) => a - b);
  if (xs.length === 0) return null;
  const m = Math.floor(xs.length / 2);
  return xs.length % 2 ? (xs[m] as number) : ((xs[m - 1] as number) + (xs[m] as number)) / 2;
}

function RequirementsList({ r }: { r: Requirements }) {
  const yes = (b: boolean | null | undefined) => (b ? he.common.yes : b === false ? he.common.no : null);
  const f = he.customer.field;
  const items: Array<[string, ReactNode]> = [];
  if (r.deal_type) items.push([f.dealType, he.dealType[r.deal_type]]);
  if (r.cities?.length) items.push([f.cities, <Auto key="c">{r.cities.join(', ')}</Auto>]);
  if (r.neighbourhoods?.length) items.push([f.neighbourhoods, <Auto key="n">{r.neighbourhoods.join(', ')}</Auto>]);
  const rooms = formatRooms(r.rooms_min, r.rooms_max);
  if (rooms) items.push([he.customers.col.rooms, <Ltr key="r">{rooms}</Ltr>]);
  const budget = formatBudget(r.budget_min, r.budget_max);
  if (budget) items.push([he.customers.col.budget, <Ltr key="b">{budget}</Ltr>]);
  if (r.property_type) items.push([f.propertyType, <Auto key="p">{r.property_type}</Auto>]);
  if (r.timeline) items.push([f.timeline, <Auto key="t">{r.timeline}</Auto>]);
  for (const [label, v] of [
    [f.parking, r.need_parking],
    [f.elevator, r.need_elevator],
    [f.mamad, r.need_mamad],
    [f.balcony, r.need_balcony],
  ] as const) {
    const s = yes(v);
    if (s) items.push([label, s]);
  }
  if (items.length === 0) return null;
  return (
    <dl className="grid grid-cols-[auto_1fr] gap-x-3 gap-y-1 text-sm" data-testid="requirements">
      {items.map(([k, v]) => (
        <div key={k} className="contents">
          <dt className="text-subtle">{k}</dt>
          <dd>{v}</dd>
        </div>
      ))}
    </dl>
  );
}

export function CallDetail({ id }: { id: string }) {
  const { me } = useAuth();
  const q = useAsync((signal) => api.call(id, { signal }), [id]);
  const sid = q.data?.call.call_sid;

  useEvent('turn', (t) => {
    if (t.call_sid !== sid) return;
    q.setData((d) => (d ? { ...d, turns: upsertTurn(d.turns, t) } : d));
  });
  useEvent('analysis', (a) => {
    if (a.call_sid !== sid) return;
    q.setData((d) => (d ? { ...d, call: { ...d.call, summary: a.summary, sentiment: a.sentiment, lead_score: a.lead_score } } : d));
  });
  useEvent('call', (c) => {
    if (c.call_sid !== sid) return;
    q.setData((d): CallDetailData | undefined => (d ? { ...d, call: { ...d.call, ...c } } : d));
  });

  if (q.error) {
    const nf = q.error instanceof ApiError && q.error.status === 404;
    return nf ? <ErrorState error={q.error} what={he.call.notFound} /> : <ErrorState error={q.error} onRetry={q.reload} />;
  }
  if (!q.data) return <Loading rows={6} />;
  const { call, turns, events } = q.data;
  const other = call.direction === 'outbound' ? call.to_number : call.from_number;
  const median = medianResponse(turns);
  const interruptions = turns.filter((t) => t.speaker === 'agent' && t.interrupted).length;
  const reasons = call.extracted?.reasons ?? [];

  return (
    <article className="flex flex-col gap-4" data-testid="call-detail">
      <header className="card flex flex-col gap-2 p-4">
        <div className="flex flex-wrap items-center gap-3">
          <h1 tabIndex={-1}>
            {call.customer_name ? <Auto>{call.customer_name}</Auto> : <Phone value={other} />}
          </h1>
          {call.customer_name && <Phone value={other} link />}
          <CallStatusBadge status={call.status} />
          {call.fallback_used && <span className="text-sm text-warning">{he.call.fallback}</span>}
        </div>
        <dl className="flex flex-wrap gap-x-6 gap-y-1 text-sm">
          <div>
            <dt className="inline text-subtle">{he.call.started}: </dt>
            <dd className="inline">
              <time dateTime={call.started_at}>{formatLong(call.started_at)}</time>
            </dd>
          </div>
          <div>
            <dt className="inline text-subtle">{he.call.duration}: </dt>
            <dd className="inline">
              <Ltr className="tabular-nums">{formatDuration(call.duration_s)}</Ltr>
            </dd>
          </div>
          <div>
            <dt className="inline text-subtle">{he.calls.col.direction}: </dt>
            <dd className="inline">{he.calls.direction[call.direction] ?? call.direction}</dd>
          </div>
          <div>
            <dt className="inline text-subtle">{he.call.customer}: </dt>
            <dd className="inline">
              {call.customer_id !== null ? (
                <Link href={`/customers/${call.customer_id}`} className="text-primary hover:underline" data-testid="call-customer-link">
                  {call.customer_name ? <Auto>{call.customer_name}</Auto> : he.common.open}
                </Link>
              ) : (
                he.call.noCustomer
              )}
            </dd>
          </div>
          <div>
            <dt className="inline text-subtle">{he.call.callSid}: </dt>
            <dd className="inline">
              <Ltr className="font-mono text-xs">{call.call_sid}</Ltr>
            </dd>
          </div>
        </dl>
        <dl className="flex flex-wrap gap-x-6 gap-y-1 text-sm" data-testid="call-figures">
          <div>
            <dt className="inline text-subtle">{he.call.medianLatency}: </dt>
            <dd className="inline">{median !== null ? <Ltr className="tabular-nums">{formatLatency(median)}</Ltr> : he.common.none}</dd>
          </div>
          <div>
            <dt className="inline text-subtle">{he.call.turns}: </dt>
            <dd className="inline">
              <Ltr>{turns.length}</Ltr>
            </dd>
          </div>
          <div>
            <dt className="inline text-subtle">{he.call.interruptions}: </dt>
            <dd className="inline">
              <Ltr>{interruptions}</Ltr>
            </dd>
          </div>
        </dl>
      </header>

      <div className="grid gap-4 lg:grid-cols-[minmax(0,1fr)_22rem]">
        <section className="card order-2 lg:order-1" aria-labelledby="tr-h">
          <h2 id="tr-h" className="border-b border-border px-4 py-2">
            {he.call.transcript}
          </h2>
          <Transcript turns={turns} events={events} startedAt={call.started_at} admin={me?.user.role === 'admin'} />
        </section>

        <aside className="order-1 flex flex-col gap-4 lg:order-2">
          <section className="card flex flex-col gap-3 p-4" aria-labelledby="sum-h" data-testid="summary-panel">
            <h2 id="sum-h">{he.call.summaryTitle}</h2>
            {call.summary ? (
              <p dir="rtl" lang="he" className="plaintext text-sm" data-testid="summary">
                {call.summary}
              </p>
            ) : (
              <p className="text-sm text-subtle">{he.call.noSummary}</p>
            )}
            <div className="flex flex-wrap items-center gap-3 text-sm">
              <span className="text-subtle">{he.call.sentiment}:</span> <SentimentBadge sentiment={call.sentiment} />
              <span className="text-subtle">{he.call.score}:</span> <ScoreBadge score={call.lead_score} />
            </div>
            {reasons.length > 0 && (
              <div className="text-sm">
                <div className="text-subtle">{he.call.reasons}</div>
                <ul className="list-inside list-disc">
                  {reasons.map((r) => (
                    <li key={r}>
                      <Auto>{r}</Auto>
                    </li>
                  ))}
                </ul>
              </div>
            )}
            {call.extracted?.requirements && (
              <div className="flex flex-col gap-1">
                <div className="text-sm text-subtle">{he.call.requirements}</div>
                <RequirementsList r={call.extracted.requirements} />
              </div>
            )}
          </section>
          <section className="card flex flex-col gap-2 p-4" aria-labelledby="rec-h">
            <h2 id="rec-h">{he.call.recording}</h2>
            {call.recording_url ? (
              <>
                {/* Media controls are not mirrored (crm-ui.md §2.9). */}
                <audio dir="ltr" controls preload="none" src={call.recording_url} className="w-full" data-testid="recording" />
                <a href={call.recording_url} className="text-sm text-primary hover:underline" data-testid="recording-link" download>
                  {he.call.downloadRecording}
                </a>
              </>
            ) : (
              <p className="text-sm text-subtle">{he.call.noRecording}</p>
            )}
          </section>
        </aside>
      </div>
    </article>
  );
}
