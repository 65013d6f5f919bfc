// A list's paging, sort, search and filters live in the URL's query string
// (?page=2&sort=name&order=asc&search=…&stage=new), so a link shares the
// exact view and Back returns to it. This hook reads them and writes them
// back (replacing the history entry while typing a search).
import { useCallback, useMemo } from 'react';
import { useLocation, useSearch } from 'wouter';
import type { ListParams, SortOrder } from '../api/types';

export interface ListQuery extends Required<Pick<ListParams, 'page' | 'per_page'>> {
  sort: string;
  order: SortOrder;
  search: string;
  filters: Record<string, string>;
}

export interface ListQueryApi {
  query: ListQuery;
  set: (patch: Partial<Omit<ListQuery, 'filters'>> & { filters?: Record<string, string> }, replace?: boolean) => void;
  params: ListParams;
}

export function parseListQuery(
  search: string,
  defaults: { sort: string; order: SortOrder; per_page?: number },
  filterKeys: readonly string[],
): ListQuery {
  const q = new URLSearchParams(search);
  const int = (k: string, d: number, max: number) => {
    const n = Number.parseInt(q.get(k) ?? '', 10);
    return Number.isFinite(n) && n >= 1 ? Math.min(n, max) : d;
  };
  const order = q.get('order');
  const filters: Record<string, string> = {};
  for (const k of filterKeys) {
    const v = q.get(k);
    if (v) filters[k] = v;
  }
  return {
    page: int('page', 1, 1_000_000),
    per_page: int('per_page', defaults.per_page ?? 50, 200),
    sort: q.get('sort') || defaults.sort,
    order: order === 'asc' || order === 'desc' ? order : defaults.order,
    search: q.get('search') ?? '',
    filters,
  };
}

export function useListQuery(defaults: { sort: string; order: SortOrder; per_page?: number }, filterKeys: readonly string[]): ListQueryApi {
  const search = useSearch();
  const [location, navigate] = useLocation();
  const keys = filterKeys.join(',');
  const query = useMemo(
    () => parseListQuery(search, defaults, filterKeys),
    // `keys` stands for filterKeys (a new array on every render).
    [search, defaults.sort, defaults.order, defaults.per_page, keys],
  );

  const set = useCallback<ListQueryApi['set']>(
    (patch, replace = false) => {
      const next = { ...query, ...patch, filters: patch.filters ?? query.filters };
      const q = new URLSearchParams();
      if (next.page > 1) q.set('page', String(next.page));
      if (next.per_page !== (defaults.per_page ?? 50)) q.set('per_page', String(next.per_page));
      if (next.sort !== defaults.sort || next.order !== defaults.order) {
        q.set('sort', next.sort);
        q.set('order', next.order);
      }
      if (next.search) q.set('search', next.search);
      for (const [k, v] of Object.entries(next.filters)) if (v) q.set(k, v);
      const s = q.toString();
      navigate(s ? `${location}?${s}` : location, { replace });
    },
    [query, navigate, location, defaults.per_page, defaults.sort, defaults.order],
  );

  const params = useMemo<ListParams>(
    () => ({
      page: query.page,
      per_page: query.per_page,
      sort: query.sort,
      order: query.order,
      search: query.search || undefined,
      filters: query.filters,
    }),
    [query],
  );

  return { query, set, params };
}
