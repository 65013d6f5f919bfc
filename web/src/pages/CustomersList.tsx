// The leads list (crm-ui.md §1.4): server-side paging, sort, filters
// (stage, source, pipeline) and Hebrew search, kept in the URL; a form to
// add a lead by hand; CSV export of the current view (all pages, UTF-8
// with BOM) for owners and admins. A lead changed by SSE is patched in
// place; new ones never push rows from under the pointer, a banner offers
// to show them instead.
import type { ColumnDef } from '@tanstack/react-table';
import { useMemo, useState } from 'react';
import { Link, useLocation } from 'wouter';
import { api, fetchAllCustomers } from '../api/client';
import { STAGES, type Customer, type Pipeline, type Source } from '../api/types';
import { ScoreBadge, StageBadge } from '../components/Badges';
import { CustomerForm } from '../components/CustomerForm';
import { ListTable, type ColumnMeta } from '../components/DataTable';
import { SearchBox, SelectFilter } from '../components/Filters';
import { Auto, Ltr, Phone } from '../components/Ltr';
import { ErrorState } from '../components/States';
import { he } from '../he';
import { useAuth } from '../lib/auth';
import { downloadCsv, toCsv } from '../lib/csv';
import { customerCsvColumns } from '../lib/customersCsv';
import { useEvent } from '../lib/events';
import { formatBudget, formatLong, formatRelative, formatRooms } from '../lib/format';
import { useAsync } from '../lib/useAsync';
import { useListQuery } from '../lib/useListQuery';

const FILTERS = ['stage', 'source', 'pipeline'] as const;
const DEFAULTS = { sort: 'updated_at', order: 'desc' as const };
const SOURCES: Source[] = ['call', 'whatsapp', 'sms', 'web', 'referral'];
const PIPELINES: Pipeline[] = ['buyer_renter', 'seller_landlord'];

export function customerColumns(): ColumnDef<Customer, unknown>[] {
  const end: ColumnMeta = { align: 'end' };
  return [
    {
      id: 'name',
      header: he.customers.col.name,
      meta: { firstOrder: 'asc' } satisfies ColumnMeta,
      cell: ({ row }) => (
        <Link href={`/customers/${row.original.id}`} className="font-medium text-primary hover:underline" onClick={(e) => e.stopPropagation()}>
          {row.original.name ? <Auto>{row.original.name}</Auto> : he.customers.noName}
        </Link>
      ),
    },
    { id: 'phone', header: he.customers.col.phone, enableSorting: false, cell: ({ row }) => <Phone value={row.original.phone} /> },
    { id: 'stage', header: he.customers.col.stage, enableSorting: false, cell: ({ row }) => <StageBadge stage={row.original.stage} /> },
    {
      id: 'deal_type',
      header: he.customers.col.dealType,
      enableSorting: false,
      cell: ({ row }) => (row.original.deal_type ? he.dealType[row.original.deal_type] : null),
    },
    {
      id: 'area',
      header: he.customers.col.area,
      enableSorting: false,
      cell: ({ row }) => {
        const a = [...row.original.cities, ...row.original.neighbourhoods];
        return a.length ? <Auto>{a.join(', ')}</Auto> : null;
      },
    },
    {
      id: 'rooms',
      header: he.customers.col.rooms,
      enableSorting: false,
      meta: end,
      cell: ({ row }) => <Ltr className="tabular-nums">{formatRooms(row.original.rooms_min, row.original.rooms_max)}</Ltr>,
    },
    {
      id: 'budget',
      header: he.customers.col.budget,
      enableSorting: false,
      meta: end,
      cell: ({ row }) => (
        <Ltr className="tabular-nums" testId="budget">
          {formatBudget(row.original.budget_min, row.original.budget_max)}
        </Ltr>
      ),
    },
    { id: 'lead_score', header: he.customers.col.score, meta: end, cell: ({ row }) => <ScoreBadge score={row.original.lead_score} /> },
    { id: 'source', header: he.customers.col.source, enableSorting: false, cell: ({ row }) => he.source[row.original.source] ?? row.original.source },
    {
      id: 'updated_at',
      header: he.customers.col.updated,
      cell: ({ row }) => (
        <time dateTime={row.original.updated_at} title={formatLong(row.original.updated_at)}>
          {formatRelative(row.original.updated_at)}
        </time>
      ),
    },
  ];
}

export function CustomersList() {
  const { can } = useAuth();
  const { query, set, params } = useListQuery(DEFAULTS, FILTERS);
  const [, navigate] = useLocation();
  const list = useAsync((signal) => api.customers(params, { signal }), [params]);
  const [creating, setCreating] = useState(false);
  const [exporting, setExporting] = useState(false);
  const [exportError, setExportError] = useState<unknown>(null);
  const [fresh, setFresh] = useState(0);
  const columns = useMemo(customerColumns, []);

  useEvent('lead', (lead) => {
    const shown = list.data?.rows.some((r) => r.id === lead.id);
    if (shown) list.setData((d) => (d ? { ...d, rows: d.rows.map((r) => (r.id === lead.id ? { ...r, ...lead } : r)) } : d));
    else setFresh((n) => n + 1);
  });

  const exportCsv = async () => {
    setExporting(true);
    setExportError(null);
    try {
      const rows = await fetchAllCustomers({ ...params, page: 1 });
      downloadCsv(toCsv(rows, customerCsvColumns), he.csv.fileName);
    } catch (e) {
      setExportError(e);
    } finally {
      setExporting(false);
    }
  };

  return (
    <section className="flex flex-col gap-4">
      <div className="flex flex-wrap items-center gap-3">
        <h1 tabIndex={-1}>{he.customers.title}</h1>
        <div className="ms-auto flex gap-2">
          {can('customers.export') && (
            <button type="button" className="btn btn-secondary" onClick={() => void exportCsv()} disabled={exporting} data-testid="export-csv">
              {exporting ? he.customers.exporting : he.customers.export}
            </button>
          )}
          {can('customers.write') && (
            <button type="button" className="btn btn-primary" onClick={() => setCreating(true)} data-testid="new-customer">
              {he.customers.newLead}
            </button>
          )}
        </div>
      </div>
      {exportError !== null && <ErrorState error={exportError} what={he.customers.export} />}
      {creating && (
        <div className="card p-4" data-testid="new-customer-panel">
          <h2 className="mb-3">{he.customers.newLead}</h2>
          <CustomerForm
            onCancel={() => setCreating(false)}
            onSubmit={async (input) => {
              const r = await api.createCustomer(input);
              setCreating(false);
              navigate(`/customers/${r.customer.id}`);
            }}
          />
        </div>
      )}
      <div className="flex flex-wrap items-end gap-3" data-testid="customers-filters">
        <SearchBox value={query.search} placeholder={he.customers.searchPlaceholder} onChange={(search) => set({ search, page: 1 }, true)} />
        <SelectFilter
          label={he.customers.filterStage}
          value={query.filters.stage ?? ''}
          options={STAGES.map((s) => [s, he.stage[s]])}
          onChange={(v) => set({ filters: { ...query.filters, stage: v }, page: 1 })}
          testId="filter-stage"
        />
        <SelectFilter
          label={he.customers.filterSource}
          value={query.filters.source ?? ''}
          options={SOURCES.map((s) => [s, he.source[s]])}
          onChange={(v) => set({ filters: { ...query.filters, source: v }, page: 1 })}
          testId="filter-source"
        />
        <SelectFilter
          label={he.customers.filterPipeline}
          value={query.filters.pipeline ?? ''}
          options={PIPELINES.map((s) => [s, he.pipeline[s]])}
          onChange={(v) => set({ filters: { ...query.filters, pipeline: v }, page: 1 })}
          testId="filter-pipeline"
        />
      </div>
      {fresh > 0 && (
        <button
          type="button"
          className="btn btn-secondary self-start"
          data-testid="fresh-leads"
          onClick={() => {
            setFresh(0);
            list.reload();
          }}
        >
          {he.customers.newLeadsBanner(fresh)}
        </button>
      )}
      <ListTable<Customer>
        testId="customers-table"
        caption={he.customers.title}
        columns={columns}
        list={list}
        listQuery={{ query, set }}
        onRowClick={(c) => navigate(`/customers/${c.id}`)}
        empty={he.customers.empty}
        emptyFiltered={he.customers.emptyFiltered}
      />
    </section>
  );
}
