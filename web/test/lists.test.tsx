// The list screens against a fake gateway: the URL's paging/sort/filter
// become the API query string; phones and prices render as LTR islands,
// names as dir="auto"; the table is RTL-correct (cells aligned to the
// start, aria-sort and arrows on the sorted column, pager from previous at
// the start to next at the end); empty and error states show.
import { fireEvent, render, screen, within } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { setUnauthorizedHandler } from '../src/api/client';
import { Money, Phone } from '../src/components/Ltr';
import { Pager } from '../src/components/DataTable';
import { CallsList } from '../src/pages/CallsList';
import { CustomersList } from '../src/pages/CustomersList';
import { call, customer, mockFetch, renderAt } from './helpers';

afterEach(() => {
  vi.unstubAllGlobals();
  setUnauthorizedHandler(null);
});

const page = <T,>(rows: T[], total = rows.length) => ({ status: 200, body: { total, page: 1, per_page: 50, rows } });

describe('LTR islands', () => {
  it('renders a phone as <bdi dir="ltr"> in local form, digits in order', () => {
    render(<Phone value="+972501234567" />);
    const el = screen.getByTestId('phone');
    expect(el.tagName).toBe('BDI');
    expect(el.getAttribute('dir')).toBe('ltr');
    expect(el.textContent).toBe('050-123-4567');
    expect(el.getAttribute('title')).toBe('+972501234567');
  });
  it('links a phone with tel: when asked', () => {
    render(<Phone value="+972501234567" link />);
    expect(screen.getByRole('link').getAttribute('href')).toBe('tel:+972501234567');
  });
  it('renders a price as <bdi dir="ltr"> with ₪', () => {
    render(<Money value={1200000} />);
    const el = screen.getByTestId('money');
    expect(el.getAttribute('dir')).toBe('ltr');
    expect(el.textContent?.replace(/[\u200e\u200f]/g, '')).toBe('1,200,000\u00a0₪');
  });
  it('renders nothing for a missing value', () => {
    const { container } = render(<Phone value={null} />);
    expect(container.innerHTML).toBe('');
  });
});

describe('<Pager>', () => {
  it('puts previous before next in DOM order (previous at the right in RTL) with start/end chevrons', () => {
    const onPage = vi.fn();
    render(<Pager page={2} pages={5} total={230} onPage={onPage} />);
    const prev = screen.getByTestId('page-prev');
    const next = screen.getByTestId('page-next');
    expect(prev.compareDocumentPosition(next) & Node.DOCUMENT_POSITION_FOLLOWING).toBeTruthy();
    expect(prev.querySelector('[data-icon="chevron-start"]')).toBeTruthy();
    expect(next.querySelector('[data-icon="chevron-end"]')).toBeTruthy();
    expect(screen.getByTestId('page-of').textContent).toBe('עמוד 2 מתוך 5');
    expect(screen.getByTestId('total').textContent).toBe('230 תוצאות');
    fireEvent.click(next);
    fireEvent.click(prev);
    expect(onPage.mock.calls).toEqual([[3], [1]]);
  });
  it('disables previous on the first page and next on the last', () => {
    render(<Pager page={1} pages={1} total={3} onPage={() => undefined} />);
    expect((screen.getByTestId('page-prev') as HTMLButtonElement).disabled).toBe(true);
    expect((screen.getByTestId('page-next') as HTMLButtonElement).disabled).toBe(true);
  });
});

describe('calls list', () => {
  it('asks the API for the page, sort and filters in the URL', async () => {
    const { calls } = mockFetch(() => page([call], 120));
    renderAt(<CallsList />, { path: '/calls?page=2&sort=duration_s&order=asc&status=completed' });
    await screen.findByTestId('row');
    expect(calls[0]?.url).toBe('/api/calls?page=2&per_page=50&sort=duration_s&order=asc&status=completed');
  });

  it('shows the caller as an LTR island, the duration as m:ss, aligned to the start', async () => {
    mockFetch(() => page([call]));
    renderAt(<CallsList />, { path: '/calls' });
    const row = await screen.findByTestId('row');
    const phone = within(row).getByTestId('phone');
    expect(phone.getAttribute('dir')).toBe('ltr');
    expect(phone.textContent).toBe('050-123-4567');
    expect(row.textContent).toContain('2:14');
    expect(row.textContent).toContain('דנה כהן');
    expect(within(row).getAllByText('דנה כהן')[0]?.closest('bdi')?.getAttribute('dir')).toBe('auto');
    expect(screen.getByTestId('th-caller').className).toContain('text-start');
  });

  it('marks the sorted column and re-sorts on click, back to page 1', async () => {
    const { calls } = mockFetch(() => page([call], 120));
    const { loc } = renderAt(<CallsList />, { path: '/calls?page=3' });
    await screen.findByTestId('row');
    expect(screen.getByTestId('th-started_at').getAttribute('aria-sort')).toBe('descending');
    expect(screen.getByTestId('th-duration_s').getAttribute('aria-sort')).toBe('none');
    expect(screen.getByTestId('sort-started_at').querySelector('[data-icon="sort-desc"]')).toBeTruthy();
    fireEvent.click(screen.getByTestId('sort-duration_s'));
    await vi.waitFor(() => expect(calls.at(-1)?.url).toBe('/api/calls?page=1&per_page=50&sort=duration_s&order=desc'));
    expect(loc.history.at(-1)).toBe('/calls?sort=duration_s&order=desc');
    fireEvent.click(screen.getByTestId('sort-duration_s'));
    await vi.waitFor(() => expect(calls.at(-1)?.url).toContain('sort=duration_s&order=asc'));
    expect(screen.getByTestId('th-duration_s').getAttribute('aria-sort')).toBe('ascending');
  });

  it('filters by status through the URL', async () => {
    const { calls } = mockFetch(() => page([call]));
    renderAt(<CallsList />, { path: '/calls' });
    await screen.findByTestId('row');
    fireEvent.change(screen.getByTestId('filter-status'), { target: { value: 'failed' } });
    await vi.waitFor(() => expect(calls.at(-1)?.url).toBe('/api/calls?page=1&per_page=50&sort=started_at&order=desc&status=failed'));
  });

  it('searches after a pause, with Hebrew or a phone number', async () => {
    const { calls } = mockFetch(() => page([call]));
    renderAt(<CallsList />, { path: '/calls' });
    await screen.findByTestId('row');
    fireEvent.change(screen.getByTestId('search'), { target: { value: '050-123' } });
    await vi.waitFor(() => expect(calls.at(-1)?.url).toContain('search=050-123'));
  });

  it('explains an empty first run', async () => {
    mockFetch(() => page([]));
    renderAt(<CallsList />, { path: '/calls' });
    const empty = await screen.findByTestId('empty');
    expect(empty.textContent).toContain('עדיין אין שיחות');
    expect(within(empty).queryByRole('button')).toBeNull();
  });

  it('offers to clear the filter when nothing matches it', async () => {
    const { calls } = mockFetch(() => page([]));
    renderAt(<CallsList />, { path: '/calls?status=failed' });
    const empty = await screen.findByTestId('empty');
    expect(empty.textContent).toContain('אין שיחות שמתאימות לסינון');
    fireEvent.click(within(empty).getByRole('button', { name: 'נקה סינון' }));
    await vi.waitFor(() => expect(calls.at(-1)?.url).toBe('/api/calls?page=1&per_page=50&sort=started_at&order=desc'));
  });

  it('shows an error with a retry', async () => {
    let fail = true;
    mockFetch(() => (fail ? { status: 503, body: { error: 'unavailable' } } : page([call])));
    renderAt(<CallsList />, { path: '/calls' });
    const err = await screen.findByTestId('error');
    expect(err.getAttribute('role')).toBe('alert');
    expect(err.textContent).toContain('אינה זמינה');
    fail = false;
    fireEvent.click(within(err).getByRole('button'));
    expect(await screen.findByTestId('row')).toBeTruthy();
  });
});

describe('customers list', () => {
  it('asks with search and stage, shows phone and budget as LTR islands', async () => {
    const { calls } = mockFetch(() => page([customer]));
    renderAt(<CustomersList />, { path: '/customers?search=כהן&stage=new' });
    const row = await screen.findByTestId('row');
    expect(calls[0]?.url).toBe(`/api/customers?page=1&per_page=50&sort=updated_at&order=desc&search=${encodeURIComponent('כהן').replace(/%20/g, '+')}&stage=new`);
    expect(within(row).getByTestId('phone').getAttribute('dir')).toBe('ltr');
    const budget = within(row).getByTestId('budget');
    expect(budget.getAttribute('dir')).toBe('ltr');
    expect(budget.textContent?.replace(/[\u200e\u200f]/g, '')).toBe('2.8M–3.4M ₪');
  });

  it('offers CSV export to owners but not to agents', async () => {
    mockFetch(() => page([customer]));
    renderAt(<CustomersList />, { path: '/customers', role: 'owner' });
    await screen.findByTestId('row');
    expect(screen.queryByTestId('export-csv')).toBeTruthy();
    vi.unstubAllGlobals();
    mockFetch(() => page([customer]));
    const agent = renderAt(<CustomersList />, { path: '/customers', role: 'agent' });
    await within(agent.container).findByTestId('row');
    expect(within(agent.container).queryByTestId('export-csv')).toBeNull();
    expect(within(agent.container).queryByTestId('new-customer')).toBeTruthy();
  });

  it('sorts names ascending on the first click', async () => {
    const { calls } = mockFetch(() => page([customer]));
    renderAt(<CustomersList />, { path: '/customers' });
    await screen.findByTestId('row');
    fireEvent.click(screen.getByTestId('sort-name'));
    await vi.waitFor(() => expect(calls.at(-1)?.url).toContain('sort=name&order=asc'));
  });
});
