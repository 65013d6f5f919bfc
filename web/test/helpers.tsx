// Shared test fixtures: a fake fetch that records requests and answers
// from a table of routes, sample rows in the shapes of docs/api.md, and a
// render helper that wraps a screen in the app's own providers (auth,
// router at a given address).
import { render } from '@testing-library/react';
import type { ReactNode } from 'react';
import { vi } from 'vitest';
import { Router } from 'wouter';
import { memoryLocation } from 'wouter/memory-location';
import type { Call, Customer, Me, Role, Turn } from '../src/api/types';
import { AuthProvider } from '../src/lib/auth';

export interface Recorded {
  url: string;
  method: string;
  headers: Record<string, string>;
  body: unknown;
  credentials: RequestCredentials | undefined;
}

type Answer = { status: number; body?: unknown };

/** Install a fetch mock; `answer` maps a request to a status and JSON body. */
export function mockFetch(answer: (r: Recorded) => Answer = () => ({ status: 200, body: {} })) {
  const calls: Recorded[] = [];
  const fn = vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
    const headers: Record<string, string> = {};
    new Headers(init?.headers).forEach((v, k) => {
      headers[k] = v;
    });
    const rec: Recorded = {
      url: String(input),
      method: (init?.method ?? 'GET').toUpperCase(),
      headers,
      body: typeof init?.body === 'string' ? JSON.parse(init.body) : undefined,
      credentials: init?.credentials,
    };
    calls.push(rec);
    const a = answer(rec);
    const text = a.body === undefined ? null : JSON.stringify(a.body);
    return new Response(a.status === 204 ? null : text, { status: a.status, headers: { 'Content-Type': 'application/json' } });
  });
  vi.stubGlobal('fetch', fn);
  return { calls, fn };
}

export function me(role: Role = 'owner'): Me {
  return {
    user: { id: 7, business_id: role === 'admin' ? null : 1, email: 'dana@example.co.il', name: 'דנה', role },
    business: role === 'admin' ? null : { id: 1, name: 'שי דירות ומשרדים בע״מ' },
    csrf_token: 'tok-123',
    permissions: [],
  };
}

/** Render inside the app's providers at `path` (with its query string). */
export function renderAt(ui: ReactNode, { path = '/', role = 'owner' as Role } = {}) {
  const loc = memoryLocation({ path, record: true });
  const utils = render(
    <Router hook={loc.hook} searchHook={loc.searchHook}>
      <AuthProvider initial={me(role)}>{ui}</AuthProvider>
    </Router>,
  );
  return { ...utils, loc };
}

export const call: Call = {
  id: 12,
  call_sid: 'CA0123456789abcdef0123456789abcdef',
  customer_id: 3,
  customer_name: 'דנה כהן',
  direction: 'inbound',
  from_number: '+972501234567',
  to_number: '+97235550100',
  status: 'completed',
  started_at: '2026-03-05T14:30:00Z',
  answered_at: '2026-03-05T14:30:01Z',
  ended_at: '2026-03-05T14:32:14Z',
  duration_s: 134,
  recording_url: '/api/calls/12/recording',
  fallback_used: false,
  summary: 'דנה מחפשת דירת 4 חדרים בצפון הישן.',
  sentiment: 'positive',
  lead_score: 72,
};

export const customer: Customer = {
  id: 3,
  phone: '+972501234567',
  name: 'דנה כהן',
  source: 'call',
  pipeline: 'buyer_renter',
  stage: 'new',
  lead_score: 72,
  sentiment: 'positive',
  deal_type: 'buy',
  cities: ['תל אביב'],
  neighbourhoods: ['הצפון הישן'],
  rooms_min: 3.5,
  rooms_max: 4,
  budget_min: 2800000,
  budget_max: 3400000,
  property_type: 'דירה',
  timeline: 'עד שלושה חודשים',
  need_parking: true,
  need_elevator: true,
  need_mamad: true,
  need_balcony: null,
  created_at: '2026-03-01T08:00:00Z',
  updated_at: '2026-03-05T14:33:00Z',
};

export function turn(p: Partial<Turn> & Pick<Turn, 'seq' | 'speaker'>): Turn {
  return {
    heard_text: null,
    generated_text: null,
    start_ms: null,
    end_ms: null,
    interrupted: false,
    stt_confidence: null,
    latency: null,
    ...p,
  };
}
