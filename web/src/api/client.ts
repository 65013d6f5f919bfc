// The one way the UI talks to the gateway (docs/api.md): fetch with the
// session cookie, the CSRF header on every state-changing request, the
// paging/sort/filter query string built the same way for every list, JSON
// errors turned into ApiError, and a 401 anywhere (but the login itself)
// sending the browser to the login screen.
import type {
  ApiErrorBody,
  CallDetail,
  Call,
  Customer,
  CustomerDetail,
  CustomerInput,
  ListParams,
  LiveCall,
  LoginResponse,
  Me,
  Note,
  Page,
  Settings,
  SettingsInput,
  Task,
  AppointmentInput,
  AppointmentRow,
  AppointmentsPage,
  AuditEntry,
  ImportReport,
  ImportRequest,
  TaskInput,
  TaskRow,
  UserRow,
} from './types';

/** A non-2xx answer (status > 0) or a network failure (status 0). */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly body: ApiErrorBody | null;

  constructor(status: number, code: string, body: ApiErrorBody | null, message?: string) {
    super(message ?? body?.message ?? `${status} ${code}`);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.body = body;
  }
}

const STATE_CHANGING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
export const LOGIN_PATH = '/login';

let csrfToken: string | null = null;
let businessScope: number | null = null;

/** The token from POST /api/login or GET /api/me; sent as X-CSRF-Token. */
export function setCsrfToken(token: string | null): void {
  csrfToken = token;
}

export function getCsrfToken(): string | null {
  return csrfToken;
}

/** An admin's chosen business: added as business_id to tenant routes. */
export function setBusinessScope(id: number | null): void {
  businessScope = id;
}

export function getBusinessScope(): number | null {
  return businessScope;
}

function redirectToLogin(): void {
  const { pathname, search } = window.location;
  if (pathname === LOGIN_PATH) return;
  const next = encodeURIComponent(pathname + search);
  window.location.assign(`${LOGIN_PATH}?next=${next}`);
}

let unauthorizedHandler: () => void = redirectToLogin;

/** Replace what a 401 does (the app clears its user first; tests spy). */
export function setUnauthorizedHandler(handler: (() => void) | null): void {
  unauthorizedHandler = handler ?? redirectToLogin;
}

/**
 * The query string of a list route: page, per_page, sort, order, search and
 * filters, in that order, empty values left out ("?" included when any).
 */
export function buildQuery(params: ListParams = {}, extra: Record<string, string | number | undefined> = {}): string {
  const q = new URLSearchParams();
  const put = (k: string, v: string | number | undefined | null) => {
    if (v === undefined || v === null) return;
    const s = String(v).trim();
    if (s !== '') q.set(k, s);
  };
  put('page', params.page);
  put('per_page', params.per_page);
  put('sort', params.sort);
  put('order', params.sort ? params.order : undefined);
  put('search', params.search);
  for (const [k, v] of Object.entries(params.filters ?? {})) put(k, v);
  for (const [k, v] of Object.entries(extra)) put(k, v);
  const s = q.toString();
  return s === '' ? '' : `?${s}`;
}

/** Routes that are not scoped to one business (no business_id added). */
const UNSCOPED = ['/api/login', '/api/logout', '/api/me', '/api/password', '/api/businesses'];

function withScope(path: string): string {
  if (businessScope === null || UNSCOPED.some((p) => path.startsWith(p))) return path;
  const sep = path.includes('?') ? '&' : '?';
  return `${path}${sep}business_id=${businessScope}`;
}

export interface RequestOptions {
  signal?: AbortSignal;
}

async function readError(res: Response): Promise<ApiErrorBody | null> {
  try {
    const body: unknown = await res.json();
    if (body !== null && typeof body === 'object' && typeof (body as { error?: unknown }).error === 'string') {
      return body as ApiErrorBody;
    }
  } catch {
    // Not JSON (a proxy's HTML page): the status alone tells what failed.
  }
  return null;
}

/** One request; resolves to the parsed JSON (undefined for 204). */
export async function request<T>(method: string, path: string, body?: unknown, opts: RequestOptions = {}): Promise<T> {
  const m = method.toUpperCase();
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (STATE_CHANGING.has(m) && csrfToken !== null) headers['X-CSRF-Token'] = csrfToken;
  let res: Response;
  try {
    res = await fetch(withScope(path), {
      method: m,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
      signal: opts.signal,
    });
  } catch (e) {
    if (e instanceof DOMException && e.name === 'AbortError') throw e;
    throw new ApiError(0, 'network', null, e instanceof Error ? e.message : String(e));
  }
  if (res.status === 401 && !(m === 'POST' && path === '/api/login')) {
    const err = await readError(res);
    csrfToken = null;
    unauthorizedHandler();
    throw new ApiError(401, err?.error ?? 'unauthorized', err);
  }
  if (!res.ok) {
    const err = await readError(res);
    throw new ApiError(res.status, err?.error ?? `http_${res.status}`, err);
  }
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  return (text === '' ? undefined : JSON.parse(text)) as T;
}

const enc = encodeURIComponent;

/** Every route of docs/api.md the UI uses. */
export const api = {
  login: async (email: string, password: string): Promise<LoginResponse> => {
    const r = await request<LoginResponse>('POST', '/api/login', { email, password });
    setCsrfToken(r.csrf_token);
    return r;
  },
  logout: async (): Promise<void> => {
    await request<void>('POST', '/api/logout');
    setCsrfToken(null);
  },
  me: async (opts?: RequestOptions): Promise<Me> => {
    const r = await request<Me>('GET', '/api/me', undefined, opts);
    setCsrfToken(r.csrf_token);
    return r;
  },
  businesses: (opts?: RequestOptions) =>
    request<{ rows: Array<{ id: number; name: string }> }>('GET', '/api/businesses', undefined, opts),

  calls: (params: ListParams, opts?: RequestOptions) =>
    request<Page<Call>>('GET', `/api/calls${buildQuery(params)}`, undefined, opts),
  liveCalls: (opts?: RequestOptions) => request<{ rows: LiveCall[] }>('GET', '/api/calls/live', undefined, opts),
  call: (id: string | number, opts?: RequestOptions) =>
    request<CallDetail>('GET', `/api/calls/${enc(String(id))}`, undefined, opts),

  customers: (params: ListParams, opts?: RequestOptions) =>
    request<Page<Customer>>('GET', `/api/customers${buildQuery(params)}`, undefined, opts),
  customer: (id: string | number, opts?: RequestOptions) =>
    request<CustomerDetail>('GET', `/api/customers/${enc(String(id))}`, undefined, opts),
  createCustomer: (input: CustomerInput) => request<{ customer: Customer }>('POST', '/api/customers', input),
  updateCustomer: (id: number, patch: CustomerInput) =>
    request<{ customer: Customer }>('PATCH', `/api/customers/${id}`, patch),
  addNote: (id: number, body: string) => request<{ note: Note }>('POST', `/api/customers/${id}/notes`, { body }),
  addTask: (id: number, title: string, due_at: string | null) =>
    request<{ task: Task }>('POST', `/api/customers/${id}/tasks`, { title, due_at }),

  settings: (opts?: RequestOptions) => request<Settings>('GET', '/api/settings', undefined, opts),
  updateSettings: (patch: SettingsInput) => request<Settings>('PATCH', '/api/settings', patch),

  appointments: (range: { from?: string; to?: string; status?: string; customer_id?: number }, opts?: RequestOptions) =>
    request<AppointmentsPage>('GET', `/api/appointments${buildQuery({}, range)}`, undefined, opts),
  createAppointment: (input: AppointmentInput) => request<{ appointment: AppointmentRow }>('POST', '/api/appointments', input),
  updateAppointment: (id: number, patch: AppointmentInput) =>
    request<{ appointment: AppointmentRow }>('PATCH', `/api/appointments/${id}`, patch),

  tasks: (params: ListParams, opts?: RequestOptions) => request<Page<TaskRow>>('GET', `/api/tasks${buildQuery(params)}`, undefined, opts),
  createTask: (input: TaskInput) => request<{ task: TaskRow }>('POST', '/api/tasks', input),
  updateTask: (id: number, patch: TaskInput) => request<{ task: TaskRow }>('PATCH', `/api/tasks/${id}`, patch),

  importCustomers: (body: ImportRequest) => request<ImportReport>('POST', '/api/import', body),

  users: (opts?: RequestOptions) => request<{ rows: UserRow[] }>('GET', '/api/users', undefined, opts),
  createUser: (input: { email: string; name: string; role: 'owner' | 'agent' }) =>
    request<{ user: UserRow; password: string }>('POST', '/api/users', input),
  updateUser: (id: number, patch: { name?: string; role?: 'owner' | 'agent'; active?: boolean }) =>
    request<{ user: UserRow }>('PATCH', `/api/users/${id}`, patch),

  audit: (q: { entity?: string; id?: number; page?: number; per_page?: number }, opts?: RequestOptions) =>
    request<Page<AuditEntry>>(
      'GET',
      `/api/audit${buildQuery({ page: q.page, per_page: q.per_page }, { entity: q.entity, id: q.id })}`,
      undefined,
      opts,
    ),
};

/** The most rows a CSV export fetches (docs/api.md). */
export const EXPORT_MAX_ROWS = 10000;

/** Every customer matching the list's filters, page by page (for CSV). */
export async function fetchAllCustomers(params: ListParams, signal?: AbortSignal): Promise<Customer[]> {
  const rows: Customer[] = [];
  const per_page = 200;
  for (let page = 1; rows.length < EXPORT_MAX_ROWS; page++) {
    const r = await api.customers({ ...params, page, per_page }, { signal });
    rows.push(...r.rows);
    if (r.rows.length < per_page || rows.length >= r.total) break;
  }
  return rows.slice(0, EXPORT_MAX_ROWS);
}
