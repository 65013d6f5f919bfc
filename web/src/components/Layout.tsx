// The shell of every signed-in screen: a sidebar at the start (the right,
// in Hebrew) with the sections the user's role may open, a top bar with the
// live-updates state and the user, and the page. Below the md breakpoint
// the sidebar becomes a drawer opened from the top bar. Only logical
// utilities (start/end, ms/me, ps/pe, border-s/e) are used, so the same
// markup would lay out an LTR locale mirrored.
import { useEffect, useState, type ReactNode } from 'react';
import { Link, useLocation } from 'wouter';
import { api } from '../api/client';
import type { Permission } from '../api/types';
import { he } from '../he';
import { useAuth } from '../lib/auth';
import { useEvents, type LiveStatus } from '../lib/events';
import { formatTime } from '../lib/format';
import { Auto, Email } from './Ltr';
import { CloseIcon, MenuIcon } from './Icons';

export interface NavItem {
  href: string;
  label: string;
  permission: Permission;
  testId: string;
}

export const NAV: readonly NavItem[] = [
  { href: '/', label: he.nav.dashboard, permission: 'calls.read', testId: 'nav-dashboard' },
  { href: '/calls', label: he.nav.calls, permission: 'calls.read', testId: 'nav-calls' },
  { href: '/customers', label: he.nav.customers, permission: 'customers.read', testId: 'nav-customers' },
  { href: '/leads', label: he.nav.leads, permission: 'customers.read', testId: 'nav-leads' },
  { href: '/appointments', label: he.nav.appointments, permission: 'customers.read', testId: 'nav-appointments' },
  { href: '/tasks', label: he.nav.tasks, permission: 'customers.read', testId: 'nav-tasks' },
  { href: '/import', label: he.nav.import, permission: 'customers.import', testId: 'nav-import' },
  { href: '/users', label: he.nav.users, permission: 'users.manage', testId: 'nav-users' },
  { href: '/settings', label: he.nav.settings, permission: 'settings.write', testId: 'nav-settings' },
];

function isActive(location: string, href: string): boolean {
  return href === '/' ? location === '/' : location === href || location.startsWith(`${href}/`);
}

const dotClass: Record<LiveStatus, string> = {
  connecting: 'bg-warning',
  open: 'bg-success',
  reconnecting: 'bg-warning',
  closed: 'bg-danger',
};

function LiveIndicator() {
  const { status, lastEventAt } = useEvents();
  return (
    <div className="flex items-center gap-2 text-sm text-subtle" data-testid="live-status" data-status={status}>
      <span className={`inline-block h-2.5 w-2.5 rounded-full ${dotClass[status]}`} aria-hidden="true" />
      <span>{he.live[status]}</span>
      {lastEventAt && <span className="hidden sm:inline">· {he.live.updatedAt(formatTime(lastEventAt))}</span>}
    </div>
  );
}

function SidebarNav({ onNavigate }: { onNavigate?: () => void }) {
  const { can } = useAuth();
  const [location] = useLocation();
  return (
    <nav aria-label={he.nav.mainNav} data-testid="sidebar-nav">
      <ul className="flex flex-col gap-1 p-3">
        {NAV.filter((n) => can(n.permission)).map((n) => {
          const active = isActive(location, n.href);
          return (
            <li key={n.href}>
              <Link
                href={n.href}
                onClick={onNavigate}
                data-testid={n.testId}
                aria-current={active ? 'page' : undefined}
                className={`block rounded px-3 py-2 ${active ? 'bg-primary text-primary-fg' : 'text-text hover:bg-muted'}`}
              >
                {n.label}
              </Link>
            </li>
          );
        })}
      </ul>
    </nav>
  );
}

function BusinessPicker() {
  const { me, businessId, setBusinessId } = useAuth();
  const [rows, setRows] = useState<Array<{ id: number; name: string }>>([]);
  const isAdmin = me?.user.role === 'admin';
  useEffect(() => {
    if (!isAdmin) return;
    let live = true;
    api
      .businesses()
      .then((r) => {
        if (!live) return;
        setRows(r.rows);
        if (businessId === null && r.rows[0]) setBusinessId(r.rows[0].id);
      })
      .catch(() => undefined);
    return () => {
      live = false;
    };
  }, [isAdmin, businessId, setBusinessId]);
  if (!isAdmin) return me?.business ? <Auto className="font-medium">{me.business.name}</Auto> : null;
  return (
    <select
      aria-label={he.nav.business}
      data-testid="business-picker"
      className="input max-w-[14rem]"
      value={businessId ?? ''}
      onChange={(e) => setBusinessId(e.target.value ? Number(e.target.value) : null)}
    >
      {rows.map((b) => (
        <option key={b.id} value={b.id}>
          {b.name}
        </option>
      ))}
    </select>
  );
}

export function Layout({ children }: { children: ReactNode }) {
  const { me, signOut } = useAuth();
  const { lost } = useEvents();
  const [open, setOpen] = useState(false);
  const [location] = useLocation();

  // A route change closes the drawer and moves focus to the page heading.
  useEffect(() => {
    setOpen(false);
    const h = document.querySelector<HTMLElement>('main h1');
    h?.focus();
  }, [location]);

  return (
    <div className="min-h-screen bg-bg text-text" data-testid="layout">
      <a href="#main" className="sr-only focus:not-sr-only focus:absolute focus:start-2 focus:top-2 focus:z-50 focus:rounded focus:bg-surface focus:p-2">
        {he.skipToContent}
      </a>
      {/* Sidebar: a column at the start from md up, a drawer below. */}
      <aside
        data-testid="sidebar"
        data-open={open}
        className={`fixed inset-y-0 start-0 z-40 w-sidebar border-e border-border bg-surface transition-transform motion-reduce:transition-none ${
          open ? '' : 'max-md:translate-x-full max-md:ltr:-translate-x-full'
        }`}
      >
        <div className="flex h-14 items-center justify-between border-b border-border px-4">
          <span className="text-lg font-bold text-primary">{he.appName}</span>
          <button type="button" className="btn-icon md:hidden" onClick={() => setOpen(false)} aria-label={he.nav.closeMenu}>
            <CloseIcon />
          </button>
        </div>
        <SidebarNav onNavigate={() => setOpen(false)} />
      </aside>
      {open && <div className="fixed inset-0 z-30 bg-black/30 md:hidden" onClick={() => setOpen(false)} aria-hidden="true" />}

      <div className="flex min-h-screen flex-col md:ms-sidebar">
        <header className="sticky top-0 z-20 flex h-14 items-center gap-3 border-b border-border bg-surface px-4" data-testid="topbar">
          <button
            type="button"
            className="btn-icon md:hidden"
            onClick={() => setOpen(true)}
            aria-label={he.nav.menu}
            aria-expanded={open}
            data-testid="menu-button"
          >
            <MenuIcon />
          </button>
          <BusinessPicker />
          <div className="ms-auto flex items-center gap-4">
            <LiveIndicator />
            {me && (
              <div className="flex items-center gap-2 text-sm" data-testid="user-menu">
                <span className="hidden flex-col leading-tight sm:flex">
                  <Auto className="font-medium">{me.user.name || me.user.email}</Auto>
                  <span className="text-xs text-subtle">
                    {he.roles[me.user.role]} · <Email value={me.user.email} />
                  </span>
                </span>
                <button type="button" className="btn btn-secondary" onClick={() => void signOut()} data-testid="logout">
                  {he.nav.logout}
                </button>
              </div>
            )}
          </div>
        </header>
        {lost && (
          <div role="status" className="flex items-center gap-3 border-b border-warning/40 bg-warning/10 px-4 py-2 text-sm" data-testid="live-lost">
            <span>{he.live.lostBanner}</span>
            <button type="button" className="btn btn-secondary" onClick={() => window.location.reload()}>
              {he.live.reload}
            </button>
          </div>
        )}
        <main id="main" className="flex-1 p-4 md:p-6" data-testid="main">
          {children}
        </main>
      </div>
    </div>
  );
}
