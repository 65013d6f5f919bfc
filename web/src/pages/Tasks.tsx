// Tasks (issue #13): create (title, due, assignee, optionally a lead),
// assign, mark done; views "mine", "overdue", "open" and "all" in the
// query string (GET /api/tasks filters). Overdue tasks are flagged; tasks
// the AI suggested after a call are marked so.
import { useState } from 'react';
import type { FormEvent } from 'react';
import { Link, useLocation, useSearch } from 'wouter';
import { api } from '../api/client';
import type { TaskRow, UserRow } from '../api/types';
import { Auto, Ltr } from '../components/Ltr';
import { ActionError, Empty, Loaded } from '../components/States';
import { he } from '../he';
import { useAuth } from '../lib/auth';
import { useEvent } from '../lib/events';
import { formatDateTime } from '../lib/format';
import { useAction } from '../lib/useAction';
import { useAsync } from '../lib/useAsync';
import { toIsoLocal } from '../lib/week';

const TT = he.tasks;
export const TASK_VIEWS = ['mine', 'overdue', 'open', 'all'] as const;
export type TaskView = (typeof TASK_VIEWS)[number];

/** The GET /api/tasks filters of a view. */
export function viewFilters(v: TaskView): Record<string, string> {
  if (v === 'mine') return { mine: 'true', done: 'false' };
  if (v === 'overdue') return { overdue: 'true' };
  if (v === 'open') return { done: 'false' };
  return {};
}

export function isOverdue(t: Pick<TaskRow, 'done' | 'due_at'>, now: number): boolean {
  return !t.done && t.due_at !== null && new Date(t.due_at).getTime() < now;
}

/** The users a task may be assigned to: the list (owners), else oneself. */
function useAssignees(): UserRow[] {
  const { me, can } = useAuth();
  const q = useAsync((signal) => (can('users.manage') ? api.users({ signal }) : Promise.resolve({ rows: [] as UserRow[] })), []);
  const rows = (q.data?.rows ?? []).filter((u) => u.active);
  if (rows.length === 0 && me) {
    return [{ id: me.user.id, business_id: me.user.business_id, email: me.user.email, name: me.user.name, role: me.user.role, active: true, created_at: '', last_login_at: null }];
  }
  return rows;
}

export function TaskForm({ customerId, onCreated }: { customerId?: number; onCreated: (t: TaskRow) => void }) {
  const { me } = useAuth();
  const users = useAssignees();
  const [title, setTitle] = useState('');
  const [date, setDate] = useState('');
  const [time, setTime] = useState('');
  const [assignee, setAssignee] = useState(() => String(me?.user.id ?? ''));
  const { busy, error, run } = useAction();

  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (!title.trim()) return;
    void run(async () => {
      const r = await api.createTask({
        title: title.trim(),
        due_at: date ? (time ? toIsoLocal(date, time) : date) : null,
        assignee_id: assignee ? Number(assignee) : null,
        customer_id: customerId ?? null,
      });
      setTitle('');
      onCreated(r.task);
    });
  };

  return (
    <form className="card flex flex-wrap items-end gap-3 p-4" onSubmit={submit} data-testid="task-form">
      <label className="flex min-w-60 flex-1 flex-col gap-1">
        <span className="label">{TT.taskTitle}</span>
        <input className="input" dir="auto" maxLength={500} value={title} onChange={(e) => setTitle(e.target.value)} required data-testid="task-title" />
      </label>
      <label className="flex flex-col gap-1">
        <span className="label">{TT.due}</span>
        <input className="input text-end" type="date" dir="ltr" value={date} onChange={(e) => setDate(e.target.value)} data-testid="task-date" />
      </label>
      <label className="flex flex-col gap-1">
        <span className="label">{he.appointments.time}</span>
        <input className="input text-end" type="time" dir="ltr" value={time} onChange={(e) => setTime(e.target.value)} data-testid="task-time" />
      </label>
      <label className="flex flex-col gap-1">
        <span className="label">{TT.assignee}</span>
        <select className="input" value={assignee} onChange={(e) => setAssignee(e.target.value)} data-testid="task-assignee">
          <option value="">{TT.nobody}</option>
          {users.map((u) => (
            <option key={u.id} value={u.id}>
              {u.name || u.email}
            </option>
          ))}
        </select>
      </label>
      <button type="submit" className="btn btn-primary" disabled={busy || !title.trim()} data-testid="task-submit">
        {busy ? he.common.saving : TT.newTask}
      </button>
      <ActionError error={error} className="w-full" />
    </form>
  );
}

export function Tasks() {
  const search = useSearch();
  const [, navigate] = useLocation();
  const v = new URLSearchParams(search).get('view');
  const view: TaskView = (TASK_VIEWS as readonly string[]).includes(v ?? '') ? (v as TaskView) : 'mine';
  const q = useAsync((signal) => api.tasks({ page: 1, per_page: 100, sort: 'due_at', order: 'asc', filters: viewFilters(view) }, { signal }), [view]);
  const [error, setError] = useState<unknown>(null);
  const now = Date.now();

  useEvent('task', () => q.reload());

  const setDone = async (t: TaskRow, done: boolean) => {
    setError(null);
    q.setData((d) => (d ? { ...d, rows: d.rows.map((x) => (x.id === t.id ? { ...x, done } : x)) } : d));
    try {
      await api.updateTask(t.id, { done });
    } catch (e) {
      q.setData((d) => (d ? { ...d, rows: d.rows.map((x) => (x.id === t.id ? { ...x, done: t.done } : x)) } : d));
      setError(e);
    }
  };

  const rows = q.data?.rows ?? [];
  return (
    <section className="flex flex-col gap-4">
      <h1 tabIndex={-1}>{TT.title}</h1>
      <TaskForm onCreated={() => q.reload()} />
      <div className="flex gap-1" role="tablist">
        {TASK_VIEWS.map((x) => (
          <button
            key={x}
            type="button"
            role="tab"
            aria-selected={x === view}
            className={`btn ${x === view ? 'btn-primary' : 'btn-secondary'}`}
            onClick={() => navigate(`/tasks?view=${x}`)}
            data-testid={`tasks-${x}`}
          >
            {TT[x]}
          </button>
        ))}
      </div>
      <ActionError error={error} />
      <Loaded q={q}>
        {rows.length === 0 ? (
          <Empty>{TT.empty}</Empty>
        ) : (
          <ul className="card divide-y divide-border" data-testid="tasks-list">
            {rows.map((t) => {
              const late = isOverdue(t, now);
              return (
                <li key={t.id} className="flex flex-wrap items-center gap-3 p-3" data-testid="task" data-id={t.id} data-overdue={late ? 'true' : undefined}>
                  <input type="checkbox" checked={t.done} onChange={(e) => void setDone(t, e.target.checked)} aria-label={TT.done} data-testid="task-done" />
                  <span dir="auto" className={t.done ? 'text-subtle line-through' : ''}>
                    {t.title}
                  </span>
                  {t.suggested && <span className="rounded-full bg-primary/10 px-2 text-xs text-primary">{TT.suggested}</span>}
                  {late && (
                    <span className="rounded-full bg-danger/10 px-2 text-xs text-danger" data-testid="overdue-flag">
                      {TT.overdueBadge}
                    </span>
                  )}
                  {t.customer_id && (
                    <Link href={`/customers/${t.customer_id}`} className="text-sm text-primary hover:underline">
                      {t.customer_name ? <Auto>{t.customer_name}</Auto> : TT.customer}
                    </Link>
                  )}
                  <span className="ms-auto flex items-center gap-3 text-sm text-subtle">
                    {t.assignee_name && <Auto>{t.assignee_name}</Auto>}
                    {t.due_at && <Ltr className="tabular-nums">{formatDateTime(t.due_at)}</Ltr>}
                  </span>
                </li>
              );
            })}
          </ul>
        )}
      </Loaded>
    </section>
  );
}
