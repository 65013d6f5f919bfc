// Appointments and viewings (issue #13): the week calendar (Sunday first,
// Asia/Jerusalem), the same week as a list with each appointment's status
// (changed in place), the requests the AI agent booked without a time,
// and a form to book one for a lead (POST /api/appointments).
import { useState } from 'react';
import type { FormEvent } from 'react';
import { Link, useLocation, useSearch } from 'wouter';
import { api } from '../api/client';
import type { AppointmentRow, AppointmentStatus } from '../api/types';
import { APPOINTMENT_STATUSES } from '../api/types';
import { Auto, Ltr, Phone } from '../components/Ltr';
import { ActionError, Empty, Loaded } from '../components/States';
import { he } from '../he';
import { useEvent } from '../lib/events';
import { formatDate, formatTime } from '../lib/format';
import { useAction } from '../lib/useAction';
import { useAsync } from '../lib/useAsync';
import { addDays, jerusalemDate, toIsoLocal, weekDates, weekStart, weekday } from '../lib/week';

const A = he.appointments;
const WD = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;
const dayName = (d: string) => he.weekdays[WD[weekday(d)] ?? 'sun'];

function StatusSelect({ a, onChange }: { a: AppointmentRow; onChange: (s: AppointmentStatus) => void }) {
  return (
    <select
      className="input w-auto py-0.5 text-xs"
      value={a.status}
      aria-label={A.status}
      onChange={(e) => onChange(e.target.value as AppointmentStatus)}
      data-testid="ap-status"
    >
      {APPOINTMENT_STATUSES.map((s) => (
        <option key={s} value={s}>
          {A.statusName[s]}
        </option>
      ))}
    </select>
  );
}

function NewAppointment({ onCreated }: { onCreated: (a: AppointmentRow) => void }) {
  const customers = useAsync((signal) => api.customers({ page: 1, per_page: 200, sort: 'name', order: 'asc' }, { signal }), []);
  const [customerId, setCustomerId] = useState('');
  const [date, setDate] = useState(() => jerusalemDate(new Date()));
  const [time, setTime] = useState('10:00');
  const [address, setAddress] = useState('');
  const [notes, setNotes] = useState('');
  const { busy, error, run } = useAction();

  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (!customerId || !date) return;
    void run(async () => {
      const r = await api.createAppointment({
        customer_id: Number(customerId),
        starts_at: time ? toIsoLocal(date, time) : date,
        address: address.trim() || null,
        notes: notes.trim() || null,
        status: 'confirmed',
      });
      onCreated(r.appointment);
    });
  };

  return (
    <form className="card grid gap-3 p-4 sm:grid-cols-2" onSubmit={submit} data-testid="appointment-form">
      <label className="flex flex-col gap-1">
        <span className="label">{A.customer}</span>
        <select className="input" value={customerId} onChange={(e) => setCustomerId(e.target.value)} required data-testid="ap-customer">
          <option value="">{A.chooseCustomer}</option>
          {customers.data?.rows.map((c) => (
            <option key={c.id} value={c.id}>
              {c.name ?? c.phone}
            </option>
          ))}
        </select>
      </label>
      <label className="flex flex-col gap-1">
        <span className="label">{A.address}</span>
        <input className="input" dir="auto" value={address} onChange={(e) => setAddress(e.target.value)} data-testid="ap-address" />
      </label>
      <label className="flex flex-col gap-1">
        <span className="label">{A.date}</span>
        <input className="input text-end" type="date" dir="ltr" value={date} onChange={(e) => setDate(e.target.value)} required data-testid="ap-date" />
      </label>
      <label className="flex flex-col gap-1">
        <span className="label">{A.time}</span>
        <input className="input text-end" type="time" dir="ltr" value={time} onChange={(e) => setTime(e.target.value)} data-testid="ap-time" />
      </label>
      <label className="flex flex-col gap-1 sm:col-span-2">
        <span className="label">{A.notes}</span>
        <textarea className="input plaintext" dir="auto" rows={2} value={notes} onChange={(e) => setNotes(e.target.value)} data-testid="ap-notes" />
      </label>
      <ActionError error={error} className="sm:col-span-2" />
      <button type="submit" className="btn btn-primary self-start" disabled={busy || !customerId} data-testid="ap-submit">
        {busy ? he.common.saving : he.common.create}
      </button>
    </form>
  );
}

function Who({ a }: { a: AppointmentRow }) {
  const name = a.customer_name ?? '';
  return a.customer_id ? (
    <Link href={`/customers/${a.customer_id}`} className="font-medium text-primary hover:underline">
      {name ? <Auto>{name}</Auto> : <Phone value={a.customer_phone} />}
    </Link>
  ) : (
    <Auto>{name}</Auto>
  );
}

/** The appointments of a week by date (Jerusalem), each day sorted by time. */
export function byDay(rows: readonly AppointmentRow[], dates: readonly string[]): Map<string, AppointmentRow[]> {
  const m = new Map<string, AppointmentRow[]>(dates.map((d) => [d, []]));
  for (const a of rows) {
    if (!a.starts_at) continue;
    const d = jerusalemDate(new Date(a.starts_at));
    m.get(d)?.push(a);
  }
  for (const list of m.values()) list.sort((x, y) => (x.starts_at ?? '').localeCompare(y.starts_at ?? ''));
  return m;
}

export function Appointments() {
  const search = useSearch();
  const [, navigate] = useLocation();
  const sp = new URLSearchParams(search);
  const start = weekStart(/^\d{4}-\d{2}-\d{2}$/.test(sp.get('week') ?? '') ? (sp.get('week') as string) : jerusalemDate(new Date()));
  const view = sp.get('view') === 'list' ? 'list' : 'week';
  const [creating, setCreating] = useState(false);
  const [updateError, setUpdateError] = useState<unknown>(null);
  const end = addDays(start, 7);
  const q = useAsync((signal) => api.appointments({ from: start, to: end }, { signal }), [start]);
  const dates = weekDates(start);
  const go = (week: string, v: string = view) => navigate(`/appointments?week=${week}&view=${v}`);

  useEvent('appointment', () => q.reload());

  const setStatus = async (a: AppointmentRow, status: AppointmentStatus) => {
    setUpdateError(null);
    const patch = (s: AppointmentStatus) =>
      q.setData((d) =>
        d
          ? {
              ...d,
              rows: d.rows.map((x) => (x.id === a.id ? { ...x, status: s } : x)),
              unscheduled: d.unscheduled.map((x) => (x.id === a.id ? { ...x, status: s } : x)),
            }
          : d,
      );
    patch(status);
    try {
      await api.updateAppointment(a.id, { status });
    } catch (e) {
      patch(a.status);
      setUpdateError(e);
    }
  };

  const rows = q.data?.rows ?? [];
  const days = byDay(rows, dates);
  const today = jerusalemDate(new Date());

  return (
    <section className="flex flex-col gap-4">
      <div className="flex flex-wrap items-center gap-3">
        <h1 tabIndex={-1}>{A.title}</h1>
        <div className="flex gap-1" role="tablist">
          <button type="button" role="tab" aria-selected={view === 'week'} className={`btn ${view === 'week' ? 'btn-primary' : 'btn-secondary'}`} onClick={() => go(start, 'week')} data-testid="view-week">
            {A.week}
          </button>
          <button type="button" role="tab" aria-selected={view === 'list'} className={`btn ${view === 'list' ? 'btn-primary' : 'btn-secondary'}`} onClick={() => go(start, 'list')} data-testid="view-list">
            {A.list}
          </button>
        </div>
        <div className="flex items-center gap-1">
          <button type="button" className="btn btn-secondary" onClick={() => go(addDays(start, -7))} data-testid="week-prev">
            {A.prevWeek}
          </button>
          <button type="button" className="btn btn-secondary" onClick={() => go(weekStart(today))} data-testid="week-this">
            {A.thisWeek}
          </button>
          <button type="button" className="btn btn-secondary" onClick={() => go(addDays(start, 7))} data-testid="week-next">
            {A.nextWeek}
          </button>
          <Ltr className="text-sm text-subtle" testId="week-range">
            {`${formatDate(`${start}T12:00:00Z`)} – ${formatDate(`${addDays(start, 6)}T12:00:00Z`)}`}
          </Ltr>
        </div>
        <button type="button" className="btn btn-primary ms-auto" onClick={() => setCreating((c) => !c)} data-testid="new-appointment">
          {A.newAppointment}
        </button>
      </div>
      {creating && (
        <NewAppointment
          onCreated={(a) => {
            setCreating(false);
            const w = a.starts_at ? weekStart(jerusalemDate(new Date(a.starts_at))) : start;
            if (w === start) q.reload();
            else go(w);
          }}
        />
      )}
      <ActionError error={updateError} />
      <Loaded q={q}>
        {view === 'week' ? (
          <div className="grid grid-cols-1 gap-2 md:grid-cols-7" data-testid="calendar">
            {dates.map((d) => (
              <section
                key={d}
                className={`card flex min-h-32 flex-col gap-2 p-2 ${d === today ? 'border-primary' : ''}`}
                data-testid="calendar-day"
                data-weekday={weekday(d)}
                data-date={d}
                aria-label={`${dayName(d)} ${d}`}
              >
                <h2 className="flex items-baseline justify-between text-sm">
                  <span>{dayName(d)}</span>
                  <Ltr className="text-xs text-subtle">{formatDate(`${d}T12:00:00Z`)}</Ltr>
                </h2>
                <ol className="flex flex-col gap-1">
                  {(days.get(d) ?? []).map((a) => (
                    <li key={a.id} className="rounded bg-primary/10 p-1 text-xs" data-testid="calendar-event" data-status={a.status}>
                      <Ltr className="font-medium tabular-nums">{formatTime(a.starts_at)}</Ltr> <Who a={a} />
                      {a.address && <Auto className="block text-subtle">{a.address}</Auto>}
                      <span className="block text-subtle">{A.statusName[a.status]}</span>
                    </li>
                  ))}
                </ol>
              </section>
            ))}
          </div>
        ) : rows.length === 0 ? (
          <Empty>{A.empty}</Empty>
        ) : (
          <table className="card w-full text-sm" data-testid="appointments-table">
            <thead className="bg-muted">
              <tr>
                <th className="p-2 text-start">{A.when}</th>
                <th className="p-2 text-start">{A.customer}</th>
                <th className="p-2 text-start">{A.address}</th>
                <th className="p-2 text-start">{A.status}</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((a) => (
                <tr key={a.id} className="border-t border-border" data-testid="row" data-row-id={a.id}>
                  <td className="p-2">
                    <Ltr className="tabular-nums">{`${formatDate(a.starts_at)} ${formatTime(a.starts_at)}`}</Ltr>
                  </td>
                  <td className="p-2">
                    <Who a={a} />
                  </td>
                  <td className="p-2">{a.address && <Auto>{a.address}</Auto>}</td>
                  <td className="p-2">
                    <StatusSelect a={a} onChange={(s) => void setStatus(a, s)} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Loaded>
      {(q.data?.unscheduled.length ?? 0) > 0 && (
        <section className="flex flex-col gap-2" data-testid="unscheduled">
          <h2>{A.unscheduled}</h2>
          <ul className="card divide-y divide-border">
            {q.data?.unscheduled.map((a) => (
              <li key={a.id} className="flex flex-wrap items-center gap-3 p-2 text-sm">
                <Who a={a} />
                {a.requested_text && (
                  <span dir="auto" className="text-subtle">
                    {a.requested_text}
                  </span>
                )}
                <span className="ms-auto">
                  <StatusSelect a={a} onChange={(s) => void setStatus(a, s)} />
                </span>
              </li>
            ))}
          </ul>
        </section>
      )}
    </section>
  );
}
