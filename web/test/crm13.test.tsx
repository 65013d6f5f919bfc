// The screens of issue #13 and their logic: the leads board (columns,
// totals, idle flag, keyboard moves in RTL, optimistic move with
// rollback), the week calendar (Sunday first, Jerusalem dates), the CSV
// import wizard (parse, mapping guess, preview, report), the users page
// (one-time password, agents refused) and tasks (views, overdue).
import { fireEvent, screen, waitFor, within } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { setUnauthorizedHandler } from '../src/api/client';
import type { Customer } from '../src/api/types';
import { auditText } from '../src/components/AuditLog';
import { he } from '../src/he';
import { groupByStage, idleDays, keyMove, leadBudget } from '../src/lib/board';
import { guessMapping, parseCsv } from '../src/lib/csvParse';
import { addDays, toIsoLocal, weekDates, weekStart, weekday } from '../src/lib/week';
import { Appointments } from '../src/pages/Appointments';
import { Import } from '../src/pages/Import';
import { LeadsBoard } from '../src/pages/LeadsBoard';
import { Tasks, isOverdue, viewFilters } from '../src/pages/Tasks';
import { Users } from '../src/pages/Users';
import { App } from '../src/App';
import { customer, mockFetch, renderAt } from './helpers';

afterEach(() => {
  vi.unstubAllGlobals();
  setUnauthorizedHandler(null);
});

const lead = (p: Partial<Customer>): Customer => ({ ...customer, ...p });
const page = <T,>(rows: T[]) => ({ total: rows.length, page: 1, per_page: 200, rows });

describe('board logic', () => {
  it('groups by stage in pipeline order with count and total budget', () => {
    const cols = groupByStage([
      lead({ id: 1, stage: 'new', budget_max: 100 }),
      lead({ id: 2, stage: 'new', budget_max: null, budget_min: 50 }),
      lead({ id: 3, stage: 'won', budget_max: null, budget_min: null }),
      lead({ id: 4, stage: 'mystery' }),
    ]);
    expect(cols.map((c) => c.stage)).toEqual(['new', 'contacted', 'qualified', 'viewing', 'negotiation', 'won', 'lost']);
    expect(cols[0]?.count).toBe(3);
    expect(cols[0]?.budget).toBe(100 + 50 + 3400000);
    expect(cols[5]?.count).toBe(1);
    expect(leadBudget({ budget_min: null, budget_max: null })).toBe(0);
  });

  it('flags a lead idle after N days, never a closed one', () => {
    const now = Date.parse('2026-03-20T12:00:00Z');
    expect(idleDays({ stage: 'new', updated_at: '2026-03-10T12:00:00Z' }, now, 7)).toBe(10);
    expect(idleDays({ stage: 'new', updated_at: '2026-03-10T12:00:00Z', last_activity_at: '2026-03-19T12:00:00Z' }, now, 7)).toBeNull();
    expect(idleDays({ stage: 'won', updated_at: '2026-01-01T00:00:00Z' }, now, 7)).toBeNull();
  });

  it('moves to the next stage with ArrowLeft in RTL and ArrowRight in LTR', () => {
    expect(keyMove('new', 'ArrowLeft')).toBe('contacted');
    expect(keyMove('contacted', 'ArrowRight')).toBe('new');
    expect(keyMove('new', 'ArrowRight', false)).toBe('contacted');
    expect(keyMove('lost', 'ArrowLeft')).toBe('lost');
    expect(keyMove('viewing', 'Home')).toBe('new');
    expect(keyMove('new', 'End')).toBe('lost');
    expect(keyMove('new', 'x')).toBeNull();
  });
});

describe('<LeadsBoard>', () => {
  it('shows the columns with counts and moves a card by keyboard, PATCHing the stage', async () => {
    const { calls } = mockFetch((r) => {
      if (r.method === 'PATCH') return { status: 200, body: { customer: lead({ id: 3, stage: 'contacted' }) } };
      return { status: 200, body: page([lead({ id: 3, stage: 'new' }), lead({ id: 4, name: 'יוסי', stage: 'new', budget_max: 6000 })]) };
    });
    renderAt(<LeadsBoard />, { path: '/leads' });
    const board = await screen.findByTestId('kanban-buyer_renter');
    expect(calls[0]?.url).toContain('pipeline=buyer_renter');
    const newCol = within(board).getAllByTestId('kanban-column')[0] as HTMLElement;
    expect(newCol.getAttribute('data-stage')).toBe('new');
    expect(within(newCol).getByTestId('column-count').getAttribute('data-count')).toBe('2');
    expect(within(newCol).getByTestId('column-total').getAttribute('data-total')).toBe(String(3400000 + 6000));
    const card = within(newCol).getAllByTestId('kanban-card')[0] as HTMLElement;
    card.focus();
    fireEvent.keyDown(card, { key: ' ' });
    fireEvent.keyDown(screen.getAllByTestId('kanban-card').find((c) => c.getAttribute('data-id') === '3') as HTMLElement, { key: 'ArrowLeft' });
    fireEvent.keyDown(screen.getAllByTestId('kanban-card').find((c) => c.getAttribute('data-id') === '3') as HTMLElement, { key: 'Enter' });
    await waitFor(() => expect(calls.some((c) => c.method === 'PATCH')).toBe(true));
    const patch = calls.find((c) => c.method === 'PATCH');
    expect(patch?.url).toBe('/api/customers/3');
    expect(patch?.body).toEqual({ stage: 'contacted' });
    const contacted = screen.getAllByTestId('kanban-column').find((c) => c.getAttribute('data-stage') === 'contacted') as HTMLElement;
    expect(within(contacted).getAllByTestId('kanban-card').map((c) => c.getAttribute('data-id'))).toEqual(['3']);
  });

  it('puts the card back when the move is refused', async () => {
    mockFetch((r) => (r.method === 'PATCH' ? { status: 500, body: { error: 'internal' } } : { status: 200, body: page([lead({ id: 3, stage: 'new' })]) }));
    renderAt(<LeadsBoard />, { path: '/leads' });
    const card = await screen.findByTestId('kanban-card');
    fireEvent.keyDown(card, { key: 'Enter' });
    fireEvent.keyDown(screen.getByTestId('kanban-card'), { key: 'ArrowLeft' });
    fireEvent.keyDown(screen.getByTestId('kanban-card'), { key: 'Enter' });
    expect(await screen.findByTestId('board-error')).toBeTruthy();
    expect(screen.getByTestId('kanban-card').closest('[data-stage]')?.getAttribute('data-stage')).toBe('new');
  });

  it('cancels a keyboard move with Escape', async () => {
    const { calls } = mockFetch(() => ({ status: 200, body: page([lead({ id: 3, stage: 'new' })]) }));
    renderAt(<LeadsBoard />, { path: '/leads' });
    const card = await screen.findByTestId('kanban-card');
    fireEvent.keyDown(card, { key: ' ' });
    fireEvent.keyDown(screen.getByTestId('kanban-card'), { key: 'ArrowLeft' });
    fireEvent.keyDown(screen.getByTestId('kanban-card'), { key: 'Escape' });
    expect(screen.getByTestId('kanban-card').closest('[data-stage]')?.getAttribute('data-stage')).toBe('new');
    expect(calls.some((c) => c.method === 'PATCH')).toBe(false);
  });

  it('loads the sellers pipeline from the query string', async () => {
    const { calls } = mockFetch(() => ({ status: 200, body: page([]) }));
    renderAt(<LeadsBoard />, { path: '/leads?pipeline=seller_landlord' });
    expect(await screen.findByTestId('kanban-seller_landlord')).toBeTruthy();
    expect(calls[0]?.url).toContain('pipeline=seller_landlord');
  });
});

describe('week calendar', () => {
  it('starts the week on Sunday', () => {
    expect(weekStart('2026-03-05')).toBe('2026-03-01'); // a Thursday
    expect(weekStart('2026-03-01')).toBe('2026-03-01');
    expect(weekStart('2026-03-07')).toBe('2026-03-01'); // Saturday
    expect(weekDates('2026-03-01').map(weekday)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(addDays('2026-02-28', 1)).toBe('2026-03-01');
  });

  it('writes times with Jerusalem offsets, summer and winter', () => {
    expect(toIsoLocal('2026-01-15', '10:30')).toBe('2026-01-15T10:30:00+02:00');
    expect(toIsoLocal('2026-07-15', '10:30')).toBe('2026-07-15T10:30:00+03:00');
  });

  it('draws the week from Sunday with the appointments on their day', async () => {
    const { calls } = mockFetch(() => ({
      status: 200,
      body: {
        from: '2026-03-01',
        to: '2026-03-08',
        rows: [{ id: 9, customer_id: 3, customer_name: 'דנה כהן', starts_at: '2026-03-03T09:30:00Z', status: 'confirmed', call_sid: null, requested_text: null, address: 'דיזנגוף 1', notes: null, created_at: '', updated_at: '' }],
        unscheduled: [],
      },
    }));
    renderAt(<Appointments />, { path: '/appointments?week=2026-03-04' });
    const cal = await screen.findByTestId('calendar');
    expect(calls[0]?.url).toBe('/api/appointments?from=2026-03-01&to=2026-03-08');
    const days = within(cal).getAllByTestId('calendar-day');
    expect(days.map((d) => d.getAttribute('data-weekday'))).toEqual(['0', '1', '2', '3', '4', '5', '6']);
    expect(days[0]?.textContent).toContain(he.weekdays.sun);
    const tuesday = days[2] as HTMLElement;
    expect(within(tuesday).getByTestId('calendar-event').textContent).toContain('דנה כהן');
    expect(within(tuesday).getByTestId('calendar-event').textContent).toContain('11:30');
  });
});

describe('CSV import', () => {
  it('parses quoted fields, CRLF, a BOM and a semicolon file', () => {
    expect(parseCsv('\ufeffשם,טלפון\r\n"כהן, דנה","050-1"\r\n\r\n"a ""b""",2\n')).toEqual([
      ['שם', 'טלפון'],
      ['כהן, דנה', '050-1'],
      ['a "b"', '2'],
    ]);
    expect(parseCsv('a;b\n1;2')).toEqual([
      ['a', 'b'],
      ['1', '2'],
    ]);
  });

  it('guesses the mapping from Hebrew and English headers', () => {
    expect(guessMapping(['שם', 'Phone', 'עיר'], he.importer.guess)).toEqual({ name: 'שם', phone: 'Phone', cities: 'עיר' });
  });

  it('maps, previews (dry run), updates duplicates and reports', async () => {
    const report = (dry: boolean) => ({
      dry_run: dry,
      counts: { create: 1, update: 1, skip: 0, invalid: 0 },
      rows: [
        { line: 2, phone: '+972501234567', name: 'דנה', action: 'update', id: 3 },
        { line: 3, phone: '+972529998877', name: 'חדש', action: 'create' },
      ],
    });
    const { calls } = mockFetch((r) => ({ status: 200, body: report((r.body as { dry_run: boolean }).dry_run) }));
    renderAt(<Import />, { path: '/import' });
    const file = new File(['שם,טלפון\n' + 'דנה,050-123-4567\n' + 'חדש,052-999-8877\n'], 'a.csv', { type: 'text/csv' });
    fireEvent.change(screen.getByTestId('import-file'), { target: { files: [file] } });
    await waitFor(() => expect((screen.getByTestId('import-next') as HTMLButtonElement).disabled).toBe(false));
    fireEvent.click(screen.getByTestId('import-next'));
    expect((screen.getByTestId('map-phone') as HTMLSelectElement).value).toBe('טלפון');
    fireEvent.click(screen.getByTestId('import-next'));
    await screen.findByTestId('import-preview');
    expect(calls[0]?.body).toMatchObject({ mapping: { phone: 'טלפון', name: 'שם' }, dry_run: true, on_existing: 'skip' });
    fireEvent.click(screen.getByTestId('import-dup-update'));
    await waitFor(() => expect(calls.length).toBe(2));
    expect(calls[1]?.body).toMatchObject({ dry_run: true, on_existing: 'update' });
    await waitFor(() => expect((screen.getByTestId('import-run') as HTMLButtonElement).disabled).toBe(false));
    fireEvent.click(screen.getByTestId('import-run'));
    const rep = await screen.findByTestId('import-report');
    expect(calls[2]?.body).toMatchObject({ dry_run: false, on_existing: 'update' });
    expect(rep.getAttribute('data-updated')).toBe('1');
    expect(rep.getAttribute('data-created')).toBe('1');
  });
});

describe('users and audit', () => {
  it('shows the one-time password once after creating a user', async () => {
    const u = { id: 9, business_id: 1, email: 'new@shai.test', name: 'חדש', role: 'agent', active: true, created_at: '', last_login_at: null };
    const { calls } = mockFetch((r) => (r.method === 'POST' ? { status: 201, body: { user: u, password: 'Xy7-one-time-pw' } } : { status: 200, body: { rows: [] } }));
    renderAt(<Users />, { path: '/users' });
    await screen.findByTestId('users-table');
    fireEvent.change(screen.getByTestId('user-email'), { target: { value: 'new@shai.test' } });
    fireEvent.click(screen.getByTestId('user-submit'));
    expect((await screen.findByTestId('one-time-password-value')).textContent).toBe('Xy7-one-time-pw');
    expect(calls.find((c) => c.method === 'POST')?.body).toEqual({ email: 'new@shai.test', name: '', role: 'agent' });
    expect(within(screen.getByTestId('users-table')).getByText('new@shai.test')).toBeTruthy();
  });

  it('refuses the users page to an agent without asking the server', async () => {
    const { calls } = mockFetch(() => ({ status: 200, body: { rows: [] } }));
    renderAt(<App />, { path: '/users', role: 'agent' });
    expect(await screen.findByTestId('forbidden')).toBeTruthy();
    expect(calls.some((c) => c.url.startsWith('/api/users'))).toBe(false);
  });

  it('words an audit entry: a stage change, and the AI agent', () => {
    expect(auditText({ id: 1, at: '', user_id: 2, user_name: 'דנה', action: 'customer.stage', entity: 'customer', entity_id: 3, detail: { from: 'new', to: 'won' } })).toEqual({
      who: 'דנה',
      what: he.audit.action['customer.stage'],
      detail: `${he.stage.new} ← ${he.stage.won}`,
    });
    expect(auditText({ id: 2, at: '', user_id: null, user_name: null, action: 'appointment.create', entity: 'appointment', entity_id: 1, detail: null }).who).toBe(he.audit.byAi);
  });
});

describe('tasks', () => {
  it('maps views to filters and flags overdue tasks', async () => {
    expect(viewFilters('mine')).toEqual({ mine: 'true', done: 'false' });
    expect(viewFilters('overdue')).toEqual({ overdue: 'true' });
    expect(isOverdue({ done: false, due_at: '2000-01-01T00:00:00Z' }, Date.now())).toBe(true);
    expect(isOverdue({ done: true, due_at: '2000-01-01T00:00:00Z' }, Date.now())).toBe(false);
    const t = { id: 1, customer_id: 3, customer_name: 'דנה', call_sid: null, title: 'להתקשר', due_at: '2000-01-01T08:00:00Z', done: false, suggested: false, assignee_id: 7, created_at: '', updated_at: '' };
    const { calls } = mockFetch((r) => (r.method === 'PATCH' ? { status: 200, body: { task: { ...t, done: true } } } : r.url.startsWith('/api/tasks') ? { status: 200, body: page([t]) } : { status: 200, body: { rows: [] } }));
    renderAt(<Tasks />, { path: '/tasks?view=overdue' });
    const task = await screen.findByTestId('task');
    expect(calls.find((c) => c.url.startsWith('/api/tasks'))?.url).toContain('overdue=true');
    expect(within(task).getByTestId('overdue-flag')).toBeTruthy();
    fireEvent.click(within(task).getByTestId('task-done'));
    await waitFor(() => expect(calls.find((c) => c.method === 'PATCH')?.body).toEqual({ done: true }));
  });
});
