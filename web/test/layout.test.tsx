// The shell (src/components/Layout.tsx) and the document: <html lang="he"
// dir="rtl"> comes from index.html itself; the layout renders inside it
// with the app's providers; the sidebar shows only what the role may
// open; and the sources use logical (start/end) utilities, never
// physical left/right ones that would break the RTL layout.
import { screen, within } from '@testing-library/react';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Layout, NAV } from '../src/components/Layout';
import { EventsProvider } from '../src/lib/events';
import { mockFetch, renderAt } from './helpers';

beforeEach(() => {
  mockFetch(() => ({ status: 200, body: { rows: [{ id: 1, name: 'שי דירות' }] } }));
});
afterEach(() => {
  vi.unstubAllGlobals();
});

describe('the document', () => {
  it('index.html declares Hebrew, right to left, before any script runs', () => {
    const html = readFileSync(resolve(__dirname, '../index.html'), 'utf8');
    expect(html).toMatch(/<html[^>]*\blang="he"/);
    expect(html).toMatch(/<html[^>]*\bdir="rtl"/);
    expect(html).toMatch(/<meta charset="UTF-8"/i);
  });
  it('tests run in that document', () => {
    expect(document.documentElement.getAttribute('dir')).toBe('rtl');
    expect(document.documentElement.getAttribute('lang')).toBe('he');
  });
});

describe('<Layout>', () => {
  it('renders the sidebar at the start and the page in main, inside the RTL document', () => {
    renderAt(
      <Layout>
        <h1>תוכן</h1>
      </Layout>,
    );
    const layout = screen.getByTestId('layout');
    expect(layout.closest('[dir]')?.getAttribute('dir')).toBe('rtl');
    const sidebar = screen.getByTestId('sidebar');
    expect(sidebar.className).toContain('start-0');
    expect(sidebar.className).toContain('border-e');
    expect(within(screen.getByTestId('main')).getByRole('heading').textContent).toBe('תוכן');
  });

  it('shows an owner every section, settings included', () => {
    renderAt(<Layout>x</Layout>, { role: 'owner' });
    const nav = screen.getByTestId('sidebar-nav');
    expect(within(nav).getAllByRole('link').map((a) => a.textContent)).toEqual([
      'לוח בקרה',
      'שיחות',
      'לידים',
      'לוח לידים',
      'פגישות',
      'משימות',
      'ייבוא לידים',
      'משתמשים',
      'הגדרות',
    ]);
  });

  it('hides users, import and settings from an agent', () => {
    renderAt(<Layout>x</Layout>, { role: 'agent' });
    const nav = screen.getByTestId('sidebar-nav');
    for (const id of ['nav-users', 'nav-import', 'nav-settings']) expect(within(nav).queryByTestId(id)).toBeNull();
    for (const id of ['nav-leads', 'nav-appointments', 'nav-tasks']) expect(within(nav).getByTestId(id)).toBeTruthy();
  });

  it('hides settings from an agent', () => {
    renderAt(<Layout>x</Layout>, { role: 'agent' });
    const nav = screen.getByTestId('sidebar-nav');
    expect(within(nav).queryByTestId('nav-settings')).toBeNull();
    expect(within(nav).getByTestId('nav-calls')).toBeTruthy();
  });

  it('marks the current section', () => {
    renderAt(<Layout>x</Layout>, { path: '/calls/12' });
    expect(screen.getByTestId('nav-calls').getAttribute('aria-current')).toBe('page');
    expect(screen.getByTestId('nav-dashboard').getAttribute('aria-current')).toBeNull();
  });

  it('gives an admin a business picker', async () => {
    renderAt(<Layout>x</Layout>, { role: 'admin' });
    expect(await screen.findByTestId('business-picker')).toBeTruthy();
  });

  it('shows the user, their role and e-mail as an LTR island', () => {
    renderAt(<Layout>x</Layout>);
    const menu = screen.getByTestId('user-menu');
    expect(menu.textContent).toContain('בעל העסק');
    const email = within(menu).getByTestId('email');
    expect(email.tagName).toBe('BDI');
    expect(email.getAttribute('dir')).toBe('ltr');
  });

  it('shows the live-updates state from EventSource', () => {
    class FakeES {
      static CLOSED = 2;
      readyState = 0;
      onopen: (() => void) | null = null;
      onerror: (() => void) | null = null;
      constructor(public url: string) {
        setTimeout(() => this.onopen?.(), 0);
      }
      addEventListener() {}
      removeEventListener() {}
      close() {}
    }
    vi.stubGlobal('EventSource', FakeES);
    renderAt(
      <EventsProvider url="/api/events">
        <Layout>x</Layout>
      </EventsProvider>,
    );
    expect(screen.getByTestId('live-status').dataset.status).toBe('connecting');
    return vi.waitFor(() => expect(screen.getByTestId('live-status').dataset.status).toBe('open'));
  });

  it('every nav item names a permission', () => {
    expect(NAV.every((n) => n.permission.includes('.'))).toBe(true);
  });
});

describe('RTL rules in the sources', () => {
  const files: string[] = [];
  const walk = (d: string) => {
    for (const f of readdirSync(d)) {
      const p = join(d, f);
      if (statSync(p).isDirectory()) walk(p);
      else if (/\.(tsx?|css)$/.test(f)) files.push(p);
    }
  };
  walk(resolve(__dirname, '../src'));

  it('use no physical left/right utilities (ml-, pr-, left-, text-right, border-l …)', () => {
    const physical = /(?<![\w-])(?:-?m[lr]-|p[lr]-|-?left-|-?right-|text-(?:left|right)\b|border-[lr]\b|border-[lr]-|rounded-[lr]\b|rounded-[lr]-|rounded-[tb][lr]\b|float-(?:left|right)\b|space-x-)/;
    const offenders = files.flatMap((f) =>
      readFileSync(f, 'utf8')
        .split('\n')
        .map((line, i) => [line, i] as const)
        .filter(([line]) => /className|@apply/.test(line) && physical.test(line))
        .map(([line, i]) => `${f}:${i + 1}: ${line.trim()}`),
    );
    expect(offenders).toEqual([]);
  });

  it('keep Hebrew UI text in he.ts', () => {
    const hebrew = /[\u05d0-\u05ea]/;
    const offenders = files.filter((f) => !f.endsWith('he.ts') && !f.endsWith('.css')).filter((f) => {
      // Comments may speak Hebrew (they quote the UI); code may not.
      const code = readFileSync(f, 'utf8')
        .replace(/\/\*[\s\S]*?\*\//g, '')
        .replace(/^\s*\/\/.*$/gm, '')
        .replace(/\{\/\*[\s\S]*?\*\/\}/g, '');
      return hebrew.test(code);
    });
    expect(offenders).toEqual([]);
  });
});

