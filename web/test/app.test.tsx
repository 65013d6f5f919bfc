// The whole app behind its gate (src/App.tsx) with the real providers:
// GET /api/me decides between the login screen (keeping where the user
// was in ?next=) and the layout with the screens the role may open.
import { render, screen } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Router } from 'wouter';
import { memoryLocation } from 'wouter/memory-location';
import { setBusinessScope, setUnauthorizedHandler } from '../src/api/client';
import { App } from '../src/App';
import type { Role } from '../src/api/types';
import { AuthProvider } from '../src/lib/auth';
import { call, me, mockFetch } from './helpers';

afterEach(() => {
  vi.unstubAllGlobals();
  setUnauthorizedHandler(null);
  setBusinessScope(null);
});

function renderApp(path: string) {
  const loc = memoryLocation({ path, record: true });
  render(
    <Router hook={loc.hook} searchHook={loc.searchHook}>
      <AuthProvider>
        <App />
      </AuthProvider>
    </Router>,
  );
  return loc;
}

const signedIn = (role: Role) =>
  mockFetch((r) => {
    if (r.url === '/api/me') return { status: 200, body: me(role) };
    if (r.url.startsWith('/api/calls/live')) return { status: 200, body: { rows: [] } };
    if (r.url.startsWith('/api/calls')) return { status: 200, body: { total: 1, page: 1, per_page: 50, rows: [call] } };
    if (r.url === '/api/businesses') return { status: 200, body: { rows: [{ id: 1, name: 'שי דירות' }] } };
    return { status: 404, body: { error: 'not_found' } };
  });

describe('<App>', () => {
  it('shows the login screen without a session, remembering the address', async () => {
    mockFetch(() => ({ status: 401, body: { error: 'unauthorized' } }));
    const loc = renderApp('/calls/12');
    expect(await screen.findByTestId('login-form')).toBeTruthy();
    await vi.waitFor(() => expect(loc.history.at(-1)).toBe(`/login?next=${encodeURIComponent('/calls/12')}`));
  });

  it('shows the layout and the calls list with a session', async () => {
    signedIn('owner');
    renderApp('/calls');
    expect(await screen.findByTestId('calls-table')).toBeTruthy();
    expect(screen.getByTestId('nav-settings')).toBeTruthy();
    expect(await screen.findByTestId('row')).toBeTruthy();
  });

  it('sends a signed-in user away from /login', async () => {
    signedIn('agent');
    const loc = renderApp('/login');
    await screen.findByTestId('layout');
    await vi.waitFor(() => expect(loc.history.at(-1)).toBe('/'));
    expect(screen.queryByTestId('nav-settings')).toBeNull();
  });

  it('asks an admin to choose a business first, then shows its screens', async () => {
    const { calls } = signedIn('admin');
    renderApp('/calls');
    expect(await screen.findByTestId('business-picker')).toBeTruthy();
    expect(await screen.findByTestId('calls-table')).toBeTruthy();
    await vi.waitFor(() => expect(calls.some((c) => c.url.startsWith('/api/calls?') && c.url.endsWith('business_id=1'))).toBe(true));
  });

  it('says when the gateway cannot be reached, with a retry', async () => {
    vi.stubGlobal('fetch', vi.fn(async () => Promise.reject(new TypeError('Failed to fetch'))));
    renderApp('/');
    const err = await screen.findByTestId('error');
    expect(err.textContent).toContain('אין חיבור לשרת');
  });
});
