// The dashboard's live strip (crm-ui.md §1.3): one card per call in
// progress, with the caller, an elapsed timer, what the agent is doing and
// the caller's last words; cards come and go by SSE (call_live,
// call_ended). Below, the latest calls.
import { useEffect, useState } from 'react';
import { Link } from 'wouter';
import { api } from '../api/client';
import type { LiveCall } from '../api/types';
import { CallStatusBadge, SentimentBadge } from '../components/Badges';
import { Auto, Ltr, Phone } from '../components/Ltr';
import { Empty, ErrorState, Loading } from '../components/States';
import { he } from '../he';
import { useEvent } from '../lib/events';
import { formatDateTime, formatDuration } from '../lib/format';
import { useAsync } from '../lib/useAsync';

/** Apply one SSE event to the list of live calls. */
export function applyLive(rows: readonly LiveCall[], ev: { type: 'live'; call: LiveCall } | { type: 'ended'; call_sid: string }): LiveCall[] {
  if (ev.type === 'ended') return rows.filter((r) => r.call_sid !== ev.call_sid);
  const i = rows.findIndex((r) => r.call_sid === ev.call.call_sid);
  if (i < 0) return [...rows, ev.call];
  const next = [...rows];
  next[i] = { ...rows[i], ...ev.call };
  return next;
}

function useNow(ms = 1000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(t);
  }, [ms]);
  return now;
}

function LiveCard({ call, now }: { call: LiveCall; now: number }) {
  const elapsed = Math.max(0, (now - new Date(call.started_at).getTime()) / 1000);
  const href = call.id ? `/calls/${call.id}` : `/calls/${encodeURIComponent(call.call_sid)}`;
  return (
    <li className="card flex flex-col gap-2 p-4" data-testid="live-call" data-call-sid={call.call_sid}>
      <div className="flex items-center justify-between gap-2">
        <div className="flex flex-col">
          {call.customer_name && <Auto className="font-medium">{call.customer_name}</Auto>}
          <Phone value={call.from_number} />
        </div>
        <span className="rounded-full bg-primary/10 px-2 py-0.5 text-xs text-primary" data-testid="live-state">
          {(call.state && he.liveState[call.state]) || he.liveState.ringing}
        </span>
      </div>
      <div className="text-sm text-subtle">
        {he.dashboard.elapsed}: <Ltr className="tabular-nums">{formatDuration(elapsed)}</Ltr>
      </div>
      {call.last_heard && (
        <p className="text-sm" dir="rtl" lang="he">
          <span className="text-subtle">{he.dashboard.lastHeard}: </span>
          {call.last_heard}
        </p>
      )}
      <Link href={href} className="text-sm text-primary hover:underline">
        {he.dashboard.openCall}
      </Link>
    </li>
  );
}

export function Dashboard() {
  const live = useAsync((signal) => api.liveCalls({ signal }), []);
  const recent = useAsync((signal) => api.calls({ page: 1, per_page: 10, sort: 'started_at', order: 'desc' }, { signal }), []);
  const now = useNow();

  useEvent('call_live', (call) => live.setData((d) => ({ rows: applyLive(d?.rows ?? [], { type: 'live', call }) })));
  useEvent('call_ended', (e) => {
    live.setData((d) => ({ rows: applyLive(d?.rows ?? [], { type: 'ended', call_sid: e.call_sid }) }));
    recent.reload();
  });
  useEvent('call', () => recent.reload());
  useEvent('hello', () => live.reload());

  const rows = live.data?.rows ?? [];
  return (
    <div className="flex flex-col gap-6">
      <h1 tabIndex={-1}>{he.dashboard.title}</h1>
      <section aria-labelledby="live-h" className="flex flex-col gap-3">
        <h2 id="live-h">
          {he.dashboard.liveCalls} <Ltr className="text-subtle">({rows.length})</Ltr>
        </h2>
        {live.error && rows.length === 0 ? (
          // Cards that SSE brought still show when the list request failed.
          <ErrorState error={live.error} onRetry={live.reload} />
        ) : live.loading && !live.data ? (
          <Loading rows={2} />
        ) : rows.length === 0 ? (
          <Empty>{he.dashboard.noLiveCalls}</Empty>
        ) : (
          <ul className="grid gap-3 sm:grid-cols-2 xl:grid-cols-3" data-testid="live-calls">
            {rows.map((c) => (
              <LiveCard key={c.call_sid} call={c} now={now} />
            ))}
          </ul>
        )}
      </section>
      <section aria-labelledby="recent-h" className="flex flex-col gap-3">
        <h2 id="recent-h">{he.dashboard.recentCalls}</h2>
        {recent.error ? (
          <ErrorState error={recent.error} onRetry={recent.reload} />
        ) : recent.loading && !recent.data ? (
          <Loading rows={3} />
        ) : (recent.data?.rows.length ?? 0) === 0 ? (
          <Empty>{he.calls.empty}</Empty>
        ) : (
          <ul className="card divide-y divide-border" data-testid="recent-calls">
            {recent.data?.rows.map((c) => (
              <li key={c.id}>
                <Link href={`/calls/${c.id}`} className="flex flex-wrap items-center gap-3 px-4 py-2 hover:bg-muted/50">
                  <Ltr className="text-sm text-subtle">{formatDateTime(c.started_at)}</Ltr>
                  {c.customer_name && <Auto className="font-medium">{c.customer_name}</Auto>}
                  <Phone value={c.direction === 'outbound' ? c.to_number : c.from_number} />
                  <CallStatusBadge status={c.status} />
                  <SentimentBadge sentiment={c.sentiment} />
                  {c.summary && (
                    <span className="min-w-0 flex-1 truncate text-sm text-subtle" dir="rtl" lang="he">
                      {c.summary}
                    </span>
                  )}
                </Link>
              </li>
            ))}
          </ul>
        )}
      </section>
    </div>
  );
}
