// The other screens against a fake gateway: login (generic error, rate
// limit, back to ?next=), the live-calls strip (SSE events add, update and
// remove cards), the call page (summary, sentiment, score, recording link,
// transcript), the lead page (timeline, stage move as PATCH with the CSRF
// header, rollback on failure) and settings (only changed fields sent,
// read-only for agents).
import { fireEvent, render, screen, within } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Router } from 'wouter';
import { memoryLocation } from 'wouter/memory-location';
import { setCsrfToken, setUnauthorizedHandler } from '../src/api/client';
import type { Business, CustomerDetail as Detail, LiveCall } from '../src/api/types';
import { AuthProvider } from '../src/lib/auth';
import { CallDetail, medianResponse, upsertTurn } from '../src/pages/CallDetail';
import { CustomerDetail, buildTimeline } from '../src/pages/CustomerDetail';
import { applyLive } from '../src/pages/Dashboard';
import { Login, safeNext } from '../src/pages/Login';
import { Settings, settingsPatch } from '../src/pages/Settings';
import { call, customer, me, mockFetch, renderAt, turn } from './helpers';

beforeEach(() => setCsrfToken('tok-123'));
afterEach(() => {
  vi.unstubAllGlobals();
  setUnauthorizedHandler(null);
});

describe('login', () => {
  const renderLogin = (path = '/login') => {
    const loc = memoryLocation({ path, record: true });
    render(
      <Router hook={loc.hook} searchHook={loc.searchHook}>
        <AuthProvider initial={null}>
          <Login />
        </AuthProvider>
      </Router>,
    );
    return loc;
  };
  const fill = () => {
    fireEvent.change(screen.getByTestId('login-email'), { target: { value: 'dana@example.co.il' } });
    fireEvent.change(screen.getByTestId('login-password'), { target: { value: 'wrong' } });
    fireEvent.click(screen.getByTestId('login-submit'));
  };

  it('has an LTR e-mail field with autocomplete', () => {
    mockFetch((r) => (r.url === '/api/me' ? { status: 200, body: me() } : { status: 401, body: { error: 'unauthorized' } }));
    renderLogin();
    const email = screen.getByTestId('login-email');
    expect(email.getAttribute('dir')).toBe('ltr');
    expect(email.getAttribute('autocomplete')).toBe('username');
    expect(screen.getByTestId('login-password').getAttribute('autocomplete')).toBe('current-password');
  });

  it('says only that the pair was wrong on 401', async () => {
    mockFetch((r) => (r.url === '/api/me' ? { status: 200, body: me() } : { status: 401, body: { error: 'login_failed' } }));
    renderLogin();
    fill();
    expect((await screen.findByTestId('login-error')).textContent).toBe('הדוא״ל או הסיסמה שגויים.');
    expect(screen.getByTestId('login-error').getAttribute('role')).toBe('alert');
  });

  it('says how long to wait on 429', async () => {
    mockFetch((r) => (r.url === '/api/me' ? { status: 200, body: me() } : { status: 429, body: { error: 'rate_limited', retry_after: 600 } }));
    renderLogin();
    fill();
    expect((await screen.findByTestId('login-error')).textContent).toContain('10 דקות');
  });

  it('goes back to ?next= after a successful login', async () => {
    mockFetch((r) => (r.url === '/api/login' ? { status: 200, body: { user: me().user, csrf_token: 't' } } : { status: 200, body: me() }));
    const loc = renderLogin(`/login?next=${encodeURIComponent('/calls?page=2')}`);
    fill();
    await vi.waitFor(() => expect(loc.history.at(-1)).toBe('/calls?page=2'));
  });

  it('never follows ?next= off the site', () => {
    expect(safeNext('?next=%2Fcustomers%2F3')).toBe('/customers/3');
    expect(safeNext('?next=%2F%2Fevil.example')).toBe('/');
    expect(safeNext('?next=https%3A%2F%2Fevil.example')).toBe('/');
    expect(safeNext('')).toBe('/');
  });
});

describe('live calls', () => {
  const a: LiveCall = { call_sid: 'CA1', from_number: '+972501234567', to_number: '+97235550100', status: 'in-progress', started_at: '2026-03-05T14:30:00Z', state: 'listening' };
  it('adds, updates and removes cards by SSE event', () => {
    let rows = applyLive([], { type: 'live', call: a });
    expect(rows).toHaveLength(1);
    rows = applyLive(rows, { type: 'live', call: { ...a, state: 'speaking', last_heard: 'כן' } });
    expect(rows).toHaveLength(1);
    expect(rows[0]?.state).toBe('speaking');
    rows = applyLive(rows, { type: 'live', call: { ...a, call_sid: 'CA2' } });
    rows = applyLive(rows, { type: 'ended', call_sid: 'CA1' });
    expect(rows.map((r) => r.call_sid)).toEqual(['CA2']);
  });
});

describe('call page', () => {
  const detail = {
    call: { ...call, extracted: { reasons: ['תקציב ברור'], requirements: { deal_type: 'buy' as const, cities: ['תל אביב'], budget_max: 3400000 } } },
    turns: [
      turn({ seq: 0, speaker: 'agent', heard_text: 'שלום', generated_text: 'שלום', start_ms: 0, latency: { end_of_turn_ms: -1, first_frame_ms: 300 } }),
      turn({ seq: 1, speaker: 'caller', heard_text: 'היי', start_ms: 3000 }),
      turn({ seq: 2, speaker: 'agent', heard_text: 'איך', generated_text: 'איך אפשר לעזור?', interrupted: true, start_ms: 5000, latency: { end_of_turn_ms: 600, first_frame_ms: 900 } }),
    ],
    events: [],
  };

  it('shows header, summary, sentiment, score, recording and transcript', async () => {
    const { calls } = mockFetch(() => ({ status: 200, body: detail }));
    renderAt(<CallDetail id="12" />, { path: '/calls/12' });
    await screen.findByTestId('call-detail');
    expect(calls[0]?.url).toBe('/api/calls/12');
    expect(screen.getByTestId('summary').textContent).toBe(call.summary);
    expect(screen.getByTestId('summary-panel').textContent).toContain('חיובי');
    expect(within(screen.getByTestId('summary-panel')).getByTestId('score').textContent).toBe('72');
    expect(screen.getByTestId('summary-panel').textContent).toContain('תקציב ברור');
    expect(screen.getByTestId('recording-link').getAttribute('href')).toBe('/api/calls/12/recording');
    expect(screen.getByTestId('recording').getAttribute('dir')).toBe('ltr');
    expect(screen.getAllByTestId('turn')).toHaveLength(3);
    expect(screen.getByTestId('call-figures').textContent).toContain('900 ms');
    expect(screen.getByTestId('call-customer-link').getAttribute('href')).toBe('/customers/3');
  });

  it('says when the call is not found', async () => {
    mockFetch(() => ({ status: 404, body: { error: 'not_found' } }));
    renderAt(<CallDetail id="999" />, { path: '/calls/999' });
    expect((await screen.findByTestId('error')).textContent).toContain('השיחה לא נמצאה');
  });

  it('merges live turns by seq and computes the median latency', () => {
    const merged = upsertTurn(detail.turns, turn({ seq: 1, speaker: 'caller', heard_text: 'היי, שלום' }));
    expect(merged.map((t) => t.seq)).toEqual([0, 1, 2]);
    expect(merged[1]?.heard_text).toBe('היי, שלום');
    expect(upsertTurn(detail.turns, turn({ seq: 3, speaker: 'caller' })).map((t) => t.seq)).toEqual([0, 1, 2, 3]);
    expect(medianResponse(detail.turns)).toBe(900); // (300 + 1500) / 2
  });
});

describe('lead page', () => {
  const detail: Detail = {
    customer,
    calls: [{ id: 12, call_sid: 'CA1', direction: 'inbound', status: 'completed', started_at: '2026-03-05T14:30:00Z', duration_s: 134, summary: 'סיכום', sentiment: 'positive', lead_score: 72 }],
    appointments: [],
    notes: [{ id: 5, customer_id: 3, call_sid: null, author_id: 7, body: 'Call back after Pesach', created_at: '2026-03-06T09:00:00Z' }],
    tasks: [],
    messages: [],
  };

  it('builds the timeline newest first', () => {
    expect(buildTimeline(detail).map((i) => i.key)).toEqual(['n5', 'c12']);
  });

  it('moves the stage with PATCH and the CSRF header', async () => {
    const { calls } = mockFetch((r) =>
      r.method === 'PATCH' ? { status: 200, body: { customer: { ...customer, stage: 'contacted' } } } : { status: 200, body: detail },
    );
    renderAt(<CustomerDetail id="3" />, { path: '/customers/3' });
    await screen.findByTestId('customer-detail');
    expect(screen.getAllByTestId('timeline-item').map((i) => i.dataset.kind)).toEqual(['notes', 'calls']);
    // A note of unknown direction (English here) is isolated with dir="auto".
    expect(screen.getByText('Call back after Pesach').getAttribute('dir')).toBe('auto');
    fireEvent.click(screen.getByTestId('stage-contacted'));
    await vi.waitFor(() => expect(screen.getByTestId('stage-contacted').getAttribute('aria-current')).toBe('step'));
    const patch = calls.find((c) => c.method === 'PATCH');
    expect(patch?.url).toBe('/api/customers/3');
    expect(patch?.body).toEqual({ stage: 'contacted' });
    expect(patch?.headers['x-csrf-token']).toBe('tok-123');
  });

  it('rolls the stage back when the server refuses', async () => {
    mockFetch((r) => (r.method === 'PATCH' ? { status: 403, body: { error: 'forbidden' } } : { status: 200, body: detail }));
    renderAt(<CustomerDetail id="3" />, { path: '/customers/3' });
    await screen.findByTestId('customer-detail');
    fireEvent.click(screen.getByTestId('stage-won'));
    expect(await screen.findByRole('alert')).toBeTruthy();
    expect(screen.getByTestId('stage-new').getAttribute('aria-current')).toBe('step');
  });
});

describe('settings', () => {
  const business: Business = {
    id: 1,
    name: 'שי דירות ומשרדים בע״מ',
    greeting: 'שלום',
    voice: 'he-IL-Wavenet-A',
    agent_instructions: 'הנחיות',
    business_hours: { sun: [['09:00', '19:00']], sat: [] },
    transfer_number: '+97235550199',
    created_at: '2026-01-01T00:00:00Z',
    updated_at: '2026-01-01T00:00:00Z',
  };
  const draft = { greeting: 'שלום', agent_instructions: 'הנחיות', voice: 'he-IL-Wavenet-A', business_hours: business.business_hours, transfer_number: '03-555-0199', agents_see: 'assigned' as const };

  it('sends only what changed, the transfer number in E.164', () => {
    expect(settingsPatch(business, draft)).toEqual({});
    expect(settingsPatch(business, { ...draft, greeting: 'היי', transfer_number: '050-123-4567' })).toEqual({ greeting: 'היי', transfer_number: '+972501234567' });
    expect(settingsPatch(business, { ...draft, transfer_number: '' })).toEqual({ transfer_number: null });
    expect(settingsPatch(business, { ...draft, transfer_number: 'abc' })).toBe('invalid-phone');
    expect(settingsPatch(business, { ...draft, agents_see: 'all' })).toEqual({ agents_see: 'all' });
  });

  it('saves a changed greeting with PATCH', async () => {
    const { calls } = mockFetch((r) =>
      r.method === 'PATCH' ? { status: 200, body: { business: { ...business, greeting: 'ברוכים הבאים' }, numbers: ['+97235550100'] } } : { status: 200, body: { business, numbers: ['+97235550100'] } },
    );
    renderAt(<Settings />, { path: '/settings', role: 'owner' });
    const greeting = await screen.findByTestId('st-greeting');
    expect(within(screen.getByTestId('st-numbers')).getByTestId('phone').textContent).toBe('03-555-0100');
    expect(screen.getByTestId('st-transfer').getAttribute('dir')).toBe('ltr');
    fireEvent.change(greeting, { target: { value: 'ברוכים הבאים' } });
    fireEvent.click(screen.getByTestId('st-save'));
    await vi.waitFor(() => expect(calls.some((c) => c.method === 'PATCH')).toBe(true));
    expect(calls.find((c) => c.method === 'PATCH')?.body).toEqual({ greeting: 'ברוכים הבאים' });
  });

  it('is read-only for an agent', async () => {
    mockFetch(() => ({ status: 200, body: { business, numbers: [] } }));
    renderAt(<Settings />, { path: '/settings', role: 'agent' });
    expect((await screen.findByTestId('st-greeting')).hasAttribute('readonly')).toBe(true);
    expect(screen.queryByTestId('st-save')).toBeNull();
  });
});
