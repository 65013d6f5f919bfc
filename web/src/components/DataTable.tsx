// The list table of the calls and customers screens: TanStack Table in
// manual mode (the server pages, sorts and filters; docs/api.md "Paged
// lists"), drawn right-to-left. Columns are given in logical order and the
// document's dir="rtl" puts the first at the right; cells align to the
// start; the sort arrow follows the label; the pager reads from the start
// (previous at the right, pointing right). Loading, empty and error
// states are part of the table so every list behaves the same.
import { flexRender, getCoreRowModel, useReactTable, type ColumnDef, type SortingState } from '@tanstack/react-table';
import type { ReactNode } from 'react';
import type { SortOrder } from '../api/types';
import type { AsyncState } from '../lib/useAsync';
import type { ListQueryApi } from '../lib/useListQuery';
import { he } from '../he';
import { formatNumber } from '../lib/format';
import { ChevronEnd, ChevronStart, SortAsc, SortDesc, SortNone } from './Icons';
import { Empty, ErrorState, Loading } from './States';

export interface ColumnMeta {
  /** Cell alignment; numbers and times read better at the end. */
  align?: 'start' | 'end';
  /** The order a first click sorts by (default desc). */
  firstOrder?: SortOrder;
}

export interface DataTableProps<T> {
  columns: ColumnDef<T, unknown>[];
  rows: T[];
  total: number;
  page: number;
  perPage: number;
  sort: string;
  order: SortOrder;
  onSort: (sort: string, order: SortOrder) => void;
  onPage: (page: number) => void;
  loading: boolean;
  error: unknown;
  onRetry: () => void;
  empty: ReactNode;
  rowId: (row: T) => string;
  onRowClick?: (row: T) => void;
  caption: string;
  testId: string;
}

function sortIcon(dir: false | 'asc' | 'desc') {
  if (dir === 'asc') return <SortAsc />;
  if (dir === 'desc') return <SortDesc />;
  return <SortNone />;
}

export function pageCount(total: number, perPage: number): number {
  return Math.max(1, Math.ceil(total / Math.max(1, perPage)));
}

export function DataTable<T>(p: DataTableProps<T>) {
  const sorting: SortingState = [{ id: p.sort, desc: p.order === 'desc' }];
  const pages = pageCount(p.total, p.perPage);
  const table = useReactTable<T>({
    data: p.rows,
    columns: p.columns,
    state: { sorting, pagination: { pageIndex: p.page - 1, pageSize: p.perPage } },
    manualSorting: true,
    manualPagination: true,
    manualFiltering: true,
    pageCount: pages,
    enableSortingRemoval: false,
    getCoreRowModel: getCoreRowModel(),
    getRowId: p.rowId,
  });

  const clickSort = (id: string, meta: ColumnMeta | undefined) => {
    if (id === p.sort) p.onSort(id, p.order === 'desc' ? 'asc' : 'desc');
    else p.onSort(id, meta?.firstOrder ?? 'desc');
  };

  const showBody = !p.error && !(p.loading && p.rows.length === 0);

  return (
    <div className="card overflow-hidden" data-testid={p.testId}>
      <div className="overflow-x-auto">
        <table className="w-full border-collapse text-sm" aria-busy={p.loading}>
          <caption className="sr-only">{p.caption}</caption>
          <thead className="bg-muted/60">
            {table.getHeaderGroups().map((hg) => (
              <tr key={hg.id}>
                {hg.headers.map((h) => {
                  const meta = h.column.columnDef.meta as ColumnMeta | undefined;
                  // Sortable unless the column says not (accessor-less columns count too:
                  // the server sorts, TanStack only draws).
                  const can = h.column.columnDef.enableSorting !== false;
                  const dir = can ? (h.column.id === p.sort ? p.order : false) : false;
                  const label = flexRender(h.column.columnDef.header, h.getContext());
                  return (
                    <th
                      key={h.id}
                      scope="col"
                      aria-sort={can ? (dir === 'asc' ? 'ascending' : dir === 'desc' ? 'descending' : 'none') : undefined}
                      className={`whitespace-nowrap border-b border-border px-3 py-2 font-medium text-subtle ${meta?.align === 'end' ? 'text-end' : 'text-start'}`}
                      data-testid={`th-${h.column.id}`}
                    >
                      {can ? (
                        <button
                          type="button"
                          className="inline-flex items-center gap-1 hover:text-text"
                          onClick={() => clickSort(h.column.id, meta)}
                          data-testid={`sort-${h.column.id}`}
                          data-sort={dir || 'none'}
                        >
                          <span>{label}</span>
                          {sortIcon(dir)}
                          <span className="sr-only">
                            {dir === 'asc' ? he.table.sortAsc : dir === 'desc' ? he.table.sortDesc : he.table.sortNone}
                          </span>
                        </button>
                      ) : (
                        label
                      )}
                    </th>
                  );
                })}
              </tr>
            ))}
          </thead>
          {showBody && (
            <tbody className={p.loading ? 'opacity-60' : undefined}>
              {table.getRowModel().rows.map((r) => (
                <tr
                  key={r.id}
                  data-testid="row"
                  data-row-id={r.id}
                  className={`border-b border-border last:border-b-0 ${p.onRowClick ? 'cursor-pointer hover:bg-muted/50' : ''}`}
                  onClick={p.onRowClick ? () => p.onRowClick?.(r.original) : undefined}
                >
                  {r.getVisibleCells().map((c) => {
                    const meta = c.column.columnDef.meta as ColumnMeta | undefined;
                    return (
                      <td key={c.id} className={`px-3 py-2 align-top ${meta?.align === 'end' ? 'text-end' : 'text-start'}`}>
                        {flexRender(c.column.columnDef.cell, c.getContext())}
                      </td>
                    );
                  })}
                </tr>
              ))}
            </tbody>
          )}
        </table>
      </div>
      {p.error ? <ErrorState error={p.error} onRetry={p.onRetry} /> : null}
      {!p.error && p.loading && p.rows.length === 0 && <Loading rows={5} />}
      {!p.error && !p.loading && p.rows.length === 0 && <Empty>{p.empty}</Empty>}
      <Pager page={p.page} pages={pages} total={p.total} onPage={p.onPage} />
    </div>
  );
}

/** Previous · page N of M · next, in reading order (RTL: previous at the right). */
export function Pager({ page, pages, total, onPage }: { page: number; pages: number; total: number; onPage: (n: number) => void }) {
  return (
    <nav aria-label={he.table.pagination} className="flex flex-wrap items-center justify-between gap-3 border-t border-border px-3 py-2 text-sm" data-testid="pager">
      <span className="text-subtle" data-testid="total">
        {he.table.rowsTotal(formatNumber(total))}
      </span>
      <div className="flex items-center gap-2">
        <button type="button" className="btn btn-secondary" disabled={page <= 1} onClick={() => onPage(page - 1)} data-testid="page-prev">
          <ChevronStart />
          <span>{he.table.prev}</span>
        </button>
        <span data-testid="page-of">
          {he.table.pageOf(formatNumber(page), formatNumber(pages))}
        </span>
        <button type="button" className="btn btn-secondary" disabled={page >= pages} onClick={() => onPage(page + 1)} data-testid="page-next">
          <span>{he.table.next}</span>
          <ChevronEnd />
        </button>
      </div>
    </nav>
  );
}

export interface ListTableProps<T extends { id: number }> {
  columns: ColumnDef<T, unknown>[];
  /** The page the server answered (docs/api.md "Paged lists"). */
  list: Pick<AsyncState<{ rows: T[]; total: number }>, 'data' | 'loading' | 'error' | 'reload'>;
  /** The URL's paging, sort, search and filters (useListQuery). */
  listQuery: Pick<ListQueryApi, 'query' | 'set'>;
  /** Where a row's click leads. */
  onRowClick: (row: T) => void;
  /** Shown when nothing matches; `emptyFiltered` when a search or filter is on. */
  empty: ReactNode;
  emptyFiltered: ReactNode;
  caption: string;
  testId: string;
}

/** A server-paged list bound to the URL's list query: the calls and customers screens. */
export function ListTable<T extends { id: number }>({ list, listQuery: { query, set }, ...p }: ListTableProps<T>) {
  const filtered = query.search !== '' || Object.keys(query.filters).length > 0;
  return (
    <DataTable<T>
      testId={p.testId}
      caption={p.caption}
      columns={p.columns}
      rows={list.data?.rows ?? []}
      total={list.data?.total ?? 0}
      page={query.page}
      perPage={query.per_page}
      sort={query.sort}
      order={query.order}
      onSort={(sort, order) => set({ sort, order, page: 1 })}
      onPage={(page) => set({ page })}
      loading={list.loading}
      error={list.error}
      onRetry={list.reload}
      rowId={(r) => String(r.id)}
      onRowClick={p.onRowClick}
      empty={
        filtered ? (
          <>
            {p.emptyFiltered}{' '}
            <button type="button" className="btn btn-secondary" onClick={() => set({ search: '', filters: {}, page: 1 })}>
              {he.common.clearFilters}
            </button>
          </>
        ) : (
          p.empty
        )
      }
    />
  );
}
