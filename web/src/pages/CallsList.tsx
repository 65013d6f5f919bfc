// The calls list (crm-ui.md §1.7): server-side paging, sort (start,
// duration, score), filters (status, direction) and search by name or any
// form of the number, all kept in the URL. A new call or a status change
// arriving by SSE reloads the current page.
import type { ColumnDef } from '@tanstack/react-table';
import { useMemo } from 'react';
import { Link, useLocation } from 'wouter';
import { api } from '../api/client';
import type { Call, CallStatus } from '../api/types';
import { CallStatusBadge, ScoreBadge, SentimentBadge } from '../components/Badges';
import { ListTable, type ColumnMeta } from '../components/DataTable';
import { Auto, Ltr, Phone } from '../components/Ltr';
import { SearchBox, SelectFilter } from '../components/Filters';
import { he } from '../he';
import { useAsync } from '../lib/useAsync';
import { useEvent } from '../lib/events';
import { formatDateTime, formatDuration, formatLong } from '../lib/format';
import { useListQuery } from '../lib/useListQuery';

const STATUSES: CallStatus[] = ['in-progress', 'completed', 'transferred', 'no-answer', 'busy', 'failed', 'canceled'];
const FILTERS = ['status', 'direction'] as const;
const DEFAULTS = { sort: 'started_at', order: 'desc' as const };

/** The number that is not ours: the caller on inbound, the callee on outbound. */
export function otherParty(c: Pick<Call, 'direction' | 'from_number' | 'to_number'>): string | null {
  return c.direction === 'outbound' ? c.to_number : c.from_number;
}

export function callColumns(): ColumnDef<Call, unknown>[] {
  const end: ColumnMeta = { align: 'end' };
  return [
    {
      id: 'started_at',
      header: he.calls.col.started,
      cell: ({ row }) => (
        <time dateTime={row.original.started_at} title={formatLong(row.original.started_at)}>
          <Ltr>{formatDateTime(row.original.started_at)}</Ltr>
        </time>
      ),
    },
    {
      id: 'caller',
      header: he.calls.col.caller,
      enableSorting: false,
      cell: ({ row }) => (
        <div className="flex flex-col">
          {row.original.customer_name && <Auto className="font-medium">{row.original.customer_name}</Auto>}
          <Phone value={otherParty(row.original)} />
        </div>
      ),
    },
    {
      id: 'direction',
      header: he.calls.col.direction,
      enableSorting: false,
      cell: ({ row }) => he.calls.direction[row.original.direction] ?? row.original.direction,
    },
    { id: 'status', header: he.calls.col.status, enableSorting: false, cell: ({ row }) => <CallStatusBadge status={row.original.status} /> },
    {
      id: 'duration_s',
      header: he.calls.col.duration,
      meta: end,
      cell: ({ row }) => <Ltr className="tabular-nums">{formatDuration(row.original.duration_s)}</Ltr>,
    },
    { id: 'sentiment', header: he.calls.col.sentiment, enableSorting: false, cell: ({ row }) => <SentimentBadge sentiment={row.original.sentiment} /> },
    { id: 'lead_score', header: he.calls.col.score, meta: end, cell: ({ row }) => <ScoreBadge score={row.original.lead_score} /> },
    {
      id: 'lead',
      header: he.calls.col.lead,
      enableSorting: false,
      cell: ({ row }) =>
        row.original.customer_id !== null ? (
          <Link href={`/customers/${row.original.customer_id}`} onClick={(e) => e.stopPropagation()} className="text-primary hover:underline">
            {row.original.customer_name ? <Auto>{row.original.customer_name}</Auto> : he.common.open}
          </Link>
        ) : null,
    },
    {
      id: 'recording',
      header: he.calls.col.recording,
      enableSorting: false,
      cell: ({ row }) => (row.original.recording_url ? <span title={he.calls.hasRecording}>▶</span> : null),
    },
  ];
}

export function CallsList() {
  const { query, set, params } = useListQuery(DEFAULTS, FILTERS);
  const [, navigate] = useLocation();
  const list = useAsync((signal) => api.calls(params, { signal }), [params]);
  useEvent('call', () => list.reload());
  const columns = useMemo(callColumns, []);

  return (
    <section className="flex flex-col gap-4">
      <h1 tabIndex={-1}>{he.calls.title}</h1>
      <div className="flex flex-wrap items-end gap-3" data-testid="calls-filters">
        <SearchBox value={query.search} placeholder={he.calls.searchPlaceholder} onChange={(search) => set({ search, page: 1 }, true)} />
        <SelectFilter
          label={he.calls.filterStatus}
          value={query.filters.status ?? ''}
          options={STATUSES.map((s) => [s, he.callStatus[s]])}
          onChange={(v) => set({ filters: { ...query.filters, status: v }, page: 1 })}
          testId="filter-status"
        />
        <SelectFilter
          label={he.calls.filterDirection}
          value={query.filters.direction ?? ''}
          options={[
            ['inbound', he.calls.direction.inbound ?? 'inbound'],
            ['outbound', he.calls.direction.outbound ?? 'outbound'],
          ]}
          onChange={(v) => set({ filters: { ...query.filters, direction: v }, page: 1 })}
          testId="filter-direction"
        />
      </div>
      <ListTable<Call>
        testId="calls-table"
        caption={he.calls.title}
        columns={columns}
        list={list}
        listQuery={{ query, set }}
        onRowClick={(c) => navigate(`/calls/${c.id}`)}
        empty={he.calls.empty}
        emptyFiltered={he.calls.emptyFiltered}
      />
    </section>
  );
}
