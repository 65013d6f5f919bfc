// One lead (crm-ui.md §1.6): the header (name, phone with call and
// WhatsApp links, stage, score), a stage stepper that moves the lead, the
// requirements card, and the activity timeline (calls, messages, notes,
// tasks, viewing requests, newest first) with type chips and a composer
// for a note or a task. Changes from other users arrive by SSE.
import { useState, type FormEvent, type ReactNode } from 'react';
import { Link } from 'wouter';
import { ApiError, api } from '../api/client';
import { STAGES, type CustomerDetail as Detail, type Customer } from '../api/types';
import { ScoreBadge, SentimentBadge, StageBadge } from '../components/Badges';
import { AuditLog } from '../components/AuditLog';
import { CustomerForm } from '../components/CustomerForm';
import { Auto, Ltr, Phone } from '../components/Ltr';
import { ErrorState, Loading, errorText } from '../components/States';
import { he } from '../he';
import { useAuth } from '../lib/auth';
import { useEvent } from '../lib/events';
import { formatBudget, formatDateTime, formatDuration, formatLong, formatRooms } from '../lib/format';
import { useAction } from '../lib/useAction';
import { useAsync } from '../lib/useAsync';
import { toIsoLocal } from '../lib/week';

export type TimelineKind = 'calls' | 'messages' | 'notes' | 'tasks' | 'appointments';

export interface TimelineItem {
  key: string;
  kind: TimelineKind;
  at: string;
  node: ReactNode;
}

/** Everything that happened with a lead, newest first. */
export function buildTimeline(d: Detail): TimelineItem[] {
  const items: TimelineItem[] = [];
  for (const c of d.calls) {
    items.push({
      key: `c${c.id}`,
      kind: 'calls',
      at: c.started_at,
      node: (
        <Link href={`/calls/${c.id}`} className="flex flex-col gap-1 hover:underline">
          <span className="flex flex-wrap items-center gap-2">
            <span className="font-medium">{he.customer.item.call}</span>
            <span className="text-subtle">{he.calls.direction[c.direction] ?? c.direction}</span>
            {c.duration_s !== null && <Ltr className="tabular-nums text-subtle">{formatDuration(c.duration_s)}</Ltr>}
            <SentimentBadge sentiment={c.sentiment} />
            <ScoreBadge score={c.lead_score} />
          </span>
          {c.summary && (
            <span dir="rtl" lang="he" className="text-sm">
              {c.summary}
            </span>
          )}
        </Link>
      ),
    });
  }
  for (const m of d.messages) {
    items.push({
      key: `m${m.id}`,
      kind: 'messages',
      at: m.created_at,
      node: (
        <div className="flex flex-col gap-1">
          <span className="font-medium">
            {he.customer.item.message} · {m.channel === 'whatsapp' ? he.source.whatsapp : he.source.sms} ·{' '}
            {he.calls.direction[m.direction] ?? m.direction}
          </span>
          <p dir="auto" className="plaintext text-sm">
            {m.body}
          </p>
        </div>
      ),
    });
  }
  for (const n of d.notes) {
    items.push({
      key: `n${n.id}`,
      kind: 'notes',
      at: n.created_at,
      node: (
        <div className="flex flex-col gap-1">
          <span className="font-medium">{he.customer.item.note}</span>
          <p dir="auto" className="plaintext text-sm">
            {n.body}
          </p>
        </div>
      ),
    });
  }
  for (const t of d.tasks) {
    items.push({
      key: `t${t.id}`,
      kind: 'tasks',
      at: t.created_at,
      node: (
        <div className="flex flex-wrap items-center gap-2">
          <span className="font-medium">{t.done ? he.customer.item.taskDone : he.customer.item.task}</span>
          <Auto className={t.done ? 'line-through text-subtle' : undefined}>{t.title}</Auto>
          {t.due_at && (
            <span className="text-sm text-subtle">
              {he.customer.dueAt} <Ltr>{formatDateTime(t.due_at)}</Ltr>
            </span>
          )}
          {t.suggested && <span className="rounded-full bg-primary/10 px-2 text-xs text-primary">{he.customer.item.suggested}</span>}
        </div>
      ),
    });
  }
  for (const a of d.appointments) {
    items.push({
      key: `a${a.id}`,
      kind: 'appointments',
      at: a.created_at,
      node: (
        <div className="flex flex-col gap-1">
          <span className="flex flex-wrap items-center gap-2">
            <span className="font-medium">{he.customer.item.appointment}</span>
            <span className={`rounded-full px-2 text-xs ${a.status === 'requested' ? 'border border-dashed border-warning' : 'bg-muted'}`}>
              {he.customer.appointmentStatus[a.status] ?? a.status}
            </span>
            {a.starts_at && <Ltr className="text-sm">{formatDateTime(a.starts_at)}</Ltr>}
          </span>
          {a.requested_text && (
            <span dir="rtl" lang="he" className="text-sm">
              “{a.requested_text}”
            </span>
          )}
          {a.address && <Auto className="text-sm text-subtle">{a.address}</Auto>}
        </div>
      ),
    });
  }
  return items.sort((x, y) => new Date(y.at).getTime() - new Date(x.at).getTime());
}

function StageStepper({ customer, disabled, onMove }: { customer: Customer; disabled: boolean; onMove: (stage: string) => void }) {
  return (
    <nav aria-label={he.customer.moveTo} data-testid="stage-stepper">
      <ol className="flex flex-wrap gap-1">
        {STAGES.map((s) => {
          const current = s === customer.stage;
          return (
            <li key={s}>
              <button
                type="button"
                className={`btn ${current ? 'btn-primary' : 'btn-secondary'}`}
                aria-current={current ? 'step' : undefined}
                disabled={disabled || current}
                onClick={() => onMove(s)}
                data-testid={`stage-${s}`}
              >
                {he.stage[s]}
              </button>
            </li>
          );
        })}
      </ol>
    </nav>
  );
}

function RequirementsCard({ c }: { c: Customer }) {
  const f = he.customer.field;
  const yes = (b: boolean | null) => (b === null ? he.common.none : b ? he.common.yes : he.common.no);
  const rows: Array<[string, ReactNode]> = [
    [f.pipeline, he.pipeline[c.pipeline] ?? c.pipeline],
    [f.dealType, c.deal_type ? he.dealType[c.deal_type] : he.common.none],
    [f.cities, c.cities.length ? <Auto>{c.cities.join(', ')}</Auto> : he.common.none],
    [f.neighbourhoods, c.neighbourhoods.length ? <Auto>{c.neighbourhoods.join(', ')}</Auto> : he.common.none],
    [he.customers.col.rooms, <Ltr key="r">{formatRooms(c.rooms_min, c.rooms_max) || he.common.none}</Ltr>],
    [he.customers.col.budget, <Ltr key="b">{formatBudget(c.budget_min, c.budget_max) || he.common.none}</Ltr>],
    [f.propertyType, c.property_type ? <Auto>{c.property_type}</Auto> : he.common.none],
    [f.timeline, c.timeline ? <Auto>{c.timeline}</Auto> : he.common.none],
    [f.parking, yes(c.need_parking)],
    [f.elevator, yes(c.need_elevator)],
    [f.mamad, yes(c.need_mamad)],
    [f.balcony, yes(c.need_balcony)],
    [f.source, he.source[c.source] ?? c.source],
  ];
  return (
    <dl className="grid grid-cols-[auto_1fr] gap-x-4 gap-y-1 text-sm" data-testid="requirements-card">
      {rows.map(([k, v]) => (
        <div key={k} className="contents">
          <dt className="text-subtle">{k}</dt>
          <dd>{v}</dd>
        </div>
      ))}
    </dl>
  );
}

function Composer({ customerId, onAdded }: { customerId: number; onAdded: () => void }) {
  const [kind, setKind] = useState<'note' | 'task'>('note');
  const [text, setText] = useState('');
  const [due, setDue] = useState('');
  const { busy, error, run } = useAction();
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!text.trim()) return;
    await run(async () => {
      if (kind === 'note') await api.addNote(customerId, text.trim());
      // The picker's wall-clock time is Israel's, whatever the browser's zone.
      else await api.addTask(customerId, text.trim(), due ? toIsoLocal(due.slice(0, 10), due.slice(11, 16)) : null);
      setText('');
      setDue('');
      onAdded();
    });
  };
  return (
    <form onSubmit={submit} className="flex flex-col gap-2" data-testid="composer">
      <div className="flex gap-1" role="radiogroup">
        {(['note', 'task'] as const).map((k) => (
          <button key={k} type="button" role="radio" aria-checked={kind === k} className={`btn ${kind === k ? 'btn-primary' : 'btn-secondary'}`} onClick={() => setKind(k)} data-testid={`composer-${k}`}>
            {k === 'note' ? he.customer.addNote : he.customer.addTask}
          </button>
        ))}
      </div>
      <textarea
        dir="auto"
        rows={kind === 'note' ? 3 : 1}
        className="input plaintext"
        aria-label={kind === 'note' ? he.customer.addNote : he.customer.addTask}
        placeholder={kind === 'note' ? he.customer.notePlaceholder : he.customer.taskPlaceholder}
        value={text}
        onChange={(e) => setText(e.target.value)}
        data-testid="composer-text"
      />
      {kind === 'task' && (
        <label className="flex items-center gap-2 text-sm">
          {he.customer.dueAt}
          <input type="datetime-local" dir="ltr" className="input w-auto" value={due} onChange={(e) => setDue(e.target.value)} data-testid="composer-due" />
        </label>
      )}
      {error !== null && (
        <p role="alert" className="text-sm text-danger">
          {errorText(error)}
        </p>
      )}
      <button type="submit" className="btn btn-primary self-start" disabled={busy || !text.trim()} data-testid="composer-submit">
        {busy ? he.common.saving : he.common.save}
      </button>
    </form>
  );
}

const FILTER_KEYS = ['all', 'calls', 'messages', 'notes', 'tasks', 'appointments'] as const;

export function CustomerDetail({ id }: { id: string }) {
  const { can } = useAuth();
  const q = useAsync((signal) => api.customer(id, { signal }), [id]);
  const [editing, setEditing] = useState(false);
  const [filter, setFilter] = useState<(typeof FILTER_KEYS)[number]>('all');
  const [moveError, setMoveError] = useState<unknown>(null);
  const cid = q.data?.customer.id;
  const phone = q.data?.customer.phone;

  useEvent('lead', (l) => {
    if (l.id === cid) q.setData((d) => (d ? { ...d, customer: { ...d.customer, ...l } } : d));
  });
  const reloadIfMine = (x: { customer_id?: number | null }) => {
    if (x.customer_id === cid) q.reload();
  };
  useEvent('note', reloadIfMine);
  useEvent('task', reloadIfMine);
  useEvent('appointment', reloadIfMine);
  useEvent('call', reloadIfMine);
  useEvent('message', (m) => {
    if (m.from_number === phone || m.to_number === phone) q.reload();
  });

  if (q.error) {
    const nf = q.error instanceof ApiError && q.error.status === 404;
    return nf ? <ErrorState error={q.error} what={he.customer.notFound} /> : <ErrorState error={q.error} onRetry={q.reload} />;
  }
  if (!q.data) return <Loading rows={6} />;
  const c = q.data.customer;
  const writable = can('customers.write');
  const timeline = buildTimeline(q.data).filter((i) => filter === 'all' || i.kind === filter);

  const move = async (stage: string) => {
    const old = c.stage;
    setMoveError(null);
    q.setData((d) => (d ? { ...d, customer: { ...d.customer, stage } } : d)); // optimistic
    try {
      const r = await api.updateCustomer(c.id, { stage });
      q.setData((d) => (d ? { ...d, customer: r.customer } : d));
    } catch (e) {
      q.setData((d) => (d ? { ...d, customer: { ...d.customer, stage: old } } : d));
      setMoveError(e);
    }
  };

  return (
    <article className="flex flex-col gap-4" data-testid="customer-detail">
      <header className="card flex flex-col gap-3 p-4">
        <div className="flex flex-wrap items-center gap-3">
          <h1 tabIndex={-1}>{c.name ? <Auto>{c.name}</Auto> : he.customers.noName}</h1>
          <Phone value={c.phone} link />
          <a href={`https://wa.me/${c.phone.replace(/\D/g, '')}`} target="_blank" rel="noreferrer" className="text-sm text-primary hover:underline">
            {he.source.whatsapp}
          </a>
          <StageBadge stage={c.stage} />
          <ScoreBadge score={c.lead_score} />
          <SentimentBadge sentiment={c.sentiment} />
          {writable && (
            <button type="button" className="btn btn-secondary ms-auto" onClick={() => setEditing((e) => !e)} data-testid="edit-customer">
              {he.customer.edit}
            </button>
          )}
        </div>
        <div className="text-xs text-subtle">
          {he.customers.col.created}: <time dateTime={c.created_at}>{formatLong(c.created_at)}</time>
        </div>
        <StageStepper customer={c} disabled={!writable} onMove={(s) => void move(s)} />
        {moveError !== null && (
          <p role="alert" className="text-sm text-danger">
            {errorText(moveError)}
          </p>
        )}
      </header>

      {editing && (
        <section className="card p-4">
          <CustomerForm
            initial={c}
            onCancel={() => setEditing(false)}
            onSubmit={async (input) => {
              const r = await api.updateCustomer(c.id, input);
              q.setData((d) => (d ? { ...d, customer: r.customer } : d));
              setEditing(false);
            }}
          />
        </section>
      )}

      <div className="grid gap-4 lg:grid-cols-[22rem_minmax(0,1fr)]">
        <section className="card flex flex-col gap-3 p-4 self-start" aria-labelledby="req-h">
          <h2 id="req-h">{he.customer.requirements}</h2>
          <RequirementsCard c={c} />
        </section>
        <section className="card flex flex-col gap-3 p-4" aria-labelledby="tl-h">
          <h2 id="tl-h">{he.customer.timeline}</h2>
          {writable && <Composer customerId={c.id} onAdded={q.reload} />}
          <div className="flex flex-wrap gap-1" role="tablist" data-testid="timeline-filters">
            {FILTER_KEYS.map((k) => (
              <button key={k} type="button" role="tab" aria-selected={filter === k} className={`btn ${filter === k ? 'btn-primary' : 'btn-secondary'}`} onClick={() => setFilter(k)}>
                {he.customer.filters[k]}
              </button>
            ))}
          </div>
          {timeline.length === 0 ? (
            <p className="text-sm text-subtle" data-testid="timeline-empty">
              {he.customer.emptyTimeline}
            </p>
          ) : (
            <ol className="flex flex-col gap-3 border-s-2 border-border ps-4" data-testid="timeline">
              {timeline.map((i) => (
                <li key={i.key} className="flex flex-col gap-1" data-testid="timeline-item" data-kind={i.kind}>
                  <time dateTime={i.at} className="text-xs text-subtle" title={formatLong(i.at)}>
                    <Ltr>{formatDateTime(i.at)}</Ltr>
                  </time>
                  {i.node}
                </li>
              ))}
            </ol>
          )}
        </section>
      </div>
      {can('audit.read') && <AuditLog entity="customer" id={c.id} />}
    </article>
  );
}
