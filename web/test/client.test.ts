// The api client (src/api/client.ts) against docs/api.md: cookies go along,
// the CSRF header rides on every state-changing request and never on GET,
// list query strings carry paging/sort/filter/search, a 401 anywhere but
// the login sends the user to the login screen, errors become ApiError.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  ApiError,
  api,
  buildQuery,
  fetchAllCustomers,
  request,
  setBusinessScope,
  setCsrfToken,
  setUnauthorizedHandler,
} from '../src/api/client';
import { customer, me, mockFetch } from './helpers';

beforeEach(() => {
  setCsrfToken(null);
  setBusinessScope(null);
  setUnauthorizedHandler(null);
});
afterEach(() => {
  vi.unstubAllGlobals();
});

describe('buildQuery', () => {
  it('puts paging, sort, order, search and filters in order', () => {
    expect(buildQuery({ page: 2, per_page: 50, sort: 'name', order: 'asc', search: 'כהן', filters: { stage: 'new', source: 'call' } })).toBe(
      `?page=2&per_page=50&sort=name&order=asc&search=${encodeURIComponent('כהן')}&stage=new&source=call`,
    );
  });
  it('leaves out empty values and returns "" when nothing is set', () => {
    expect(buildQuery({ search: '  ', filters: { stage: '', source: undefined } })).toBe('');
    expect(buildQuery({})).toBe('');
  });
  it('sends order only with a sort', () => {
    expect(buildQuery({ order: 'asc' })).toBe('');
  });
  it('encodes phone searches (+ is not a space)', () => {
    expect(buildQuery({ search: '+972 50-123' })).toBe('?search=%2B972+50-123');
  });
});

describe('request', () => {
  it('sends the session cookie (same-origin credentials) and asks for JSON', async () => {
    const { calls } = mockFetch(() => ({ status: 200, body: me() }));
    await api.me();
    expect(calls[0]?.url).toBe('/api/me');
    expect(calls[0]?.credentials).toBe('same-origin');
    expect(calls[0]?.headers.accept).toBe('application/json');
  });

  it('keeps the CSRF token from /api/me and sends it on POST, PATCH and DELETE only', async () => {
    const { calls } = mockFetch((r) => (r.url === '/api/me' ? { status: 200, body: me() } : { status: 200, body: {} }));
    await api.me();
    await request('GET', '/api/calls');
    await api.updateCustomer(3, { stage: 'contacted' });
    await api.addNote(3, 'התקשרה שוב');
    await request('DELETE', '/api/customers/3');
    const by = (m: string) => calls.find((c) => c.method === m);
    expect(by('GET')?.headers['x-csrf-token']).toBeUndefined();
    expect(by('PATCH')?.headers['x-csrf-token']).toBe('tok-123');
    expect(by('POST')?.headers['x-csrf-token']).toBe('tok-123');
    expect(by('DELETE')?.headers['x-csrf-token']).toBe('tok-123');
    expect(by('PATCH')?.headers['content-type']).toBe('application/json');
    expect(by('PATCH')?.body).toEqual({ stage: 'contacted' });
  });

  it('takes the CSRF token from the login answer', async () => {
    const { calls } = mockFetch((r) =>
      r.url === '/api/login' ? { status: 200, body: { user: me().user, csrf_token: 'from-login' } } : { status: 204 },
    );
    await api.login('dana@example.co.il', 'secret');
    expect(calls[0]?.body).toEqual({ email: 'dana@example.co.il', password: 'secret' });
    await api.logout();
    expect(calls[1]?.headers['x-csrf-token']).toBe('from-login');
  });

  it('on 401 calls the unauthorized handler and throws', async () => {
    mockFetch(() => ({ status: 401, body: { error: 'unauthorized' } }));
    const onUnauth = vi.fn();
    setUnauthorizedHandler(onUnauth);
    setCsrfToken('old');
    await expect(api.calls({ page: 1 })).rejects.toMatchObject({ status: 401, code: 'unauthorized' });
    expect(onUnauth).toHaveBeenCalledTimes(1);
  });

  it('by default a 401 redirects to /login with the current address as next', async () => {
    mockFetch(() => ({ status: 401, body: { error: 'unauthorized' } }));
    const assign = vi.fn();
    vi.stubGlobal('location', { ...window.location, pathname: '/calls', search: '?page=2', assign });
    await expect(api.liveCalls()).rejects.toBeInstanceOf(ApiError);
    expect(assign).toHaveBeenCalledWith(`/login?next=${encodeURIComponent('/calls?page=2')}`);
  });

  it('a failed login (401) does not redirect: the form shows the error', async () => {
    mockFetch(() => ({ status: 401, body: { error: 'login_failed' } }));
    const onUnauth = vi.fn();
    setUnauthorizedHandler(onUnauth);
    await expect(api.login('a@b.c', 'x')).rejects.toMatchObject({ status: 401, code: 'login_failed' });
    expect(onUnauth).not.toHaveBeenCalled();
  });

  it('turns error bodies into ApiError (429 with retry_after, 409 with id)', async () => {
    mockFetch((r) =>
      r.url === '/api/login'
        ? { status: 429, body: { error: 'rate_limited', retry_after: 600 } }
        : { status: 409, body: { error: 'conflict', id: 3 } },
    );
    const e1 = await api.login('a@b.c', 'x').catch((e: unknown) => e);
    expect(e1).toBeInstanceOf(ApiError);
    expect((e1 as ApiError).body?.retry_after).toBe(600);
    const e2 = await api.createCustomer({ phone: '+972501234567' }).catch((e: unknown) => e);
    expect((e2 as ApiError).code).toBe('conflict');
    expect((e2 as ApiError).body?.id).toBe(3);
  });

  it('a non-JSON error still has the status', async () => {
    vi.stubGlobal('fetch', vi.fn(async () => new Response('<html>bad gateway</html>', { status: 502 })));
    await expect(api.settings()).rejects.toMatchObject({ status: 502, code: 'http_502' });
  });

  it('a network failure is status 0, code network', async () => {
    vi.stubGlobal('fetch', vi.fn(async () => Promise.reject(new TypeError('Failed to fetch'))));
    await expect(api.settings()).rejects.toMatchObject({ status: 0, code: 'network' });
  });

  it('204 resolves to undefined', async () => {
    mockFetch(() => ({ status: 204 }));
    await expect(request('POST', '/api/logout')).resolves.toBeUndefined();
  });

  it("adds an admin's business_id to tenant routes only", async () => {
    const { calls } = mockFetch(() => ({ status: 200, body: { total: 0, page: 1, per_page: 50, rows: [] } }));
    setBusinessScope(4);
    await api.customers({ page: 1, filters: { stage: 'new' } });
    await api.settings();
    await request('GET', '/api/me');
    expect(calls.map((c) => c.url)).toEqual(['/api/customers?page=1&stage=new&business_id=4', '/api/settings?business_id=4', '/api/me']);
  });

  it('list routes use the query string of docs/api.md', async () => {
    const { calls } = mockFetch(() => ({ status: 200, body: { total: 0, page: 1, per_page: 50, rows: [] } }));
    await api.calls({ page: 3, per_page: 25, sort: 'duration_s', order: 'asc', search: '050-123', filters: { status: 'completed', direction: 'inbound' } });
    expect(calls[0]?.url).toBe('/api/calls?page=3&per_page=25&sort=duration_s&order=asc&search=050-123&status=completed&direction=inbound');
    await api.call('CA12/x');
    expect(calls[1]?.url).toBe('/api/calls/CA12%2Fx');
  });
});

describe('fetchAllCustomers', () => {
  it('pages with per_page=200 until total is reached', async () => {
    const rows = (n: number, from: number) => Array.from({ length: n }, (_, i) => ({ ...customer, id: from + i }));
    const { calls } = mockFetch((r) => {
      const page = Number(new URL(r.url, 'http://x').searchParams.get('page'));
      return { status: 200, body: { total: 450, page, per_page: 200, rows: page < 3 ? rows(200, page * 1000) : rows(50, 3000) } };
    });
    const all = await fetchAllCustomers({ sort: 'name', order: 'asc', filters: { stage: 'new' } });
    expect(all).toHaveLength(450);
    expect(calls.map((c) => new URL(c.url, 'http://x').searchParams.get('page'))).toEqual(['1', '2', '3']);
    expect(calls.every((c) => c.url.includes('per_page=200') && c.url.includes('stage=new'))).toBe(true);
  });
});
