// The audit log of one record (issue #13; owner and admin, audit.read):
// who changed what and when, newest first (GET /api/audit?entity=&id=).
// A stage change shows from → to; a write by the AI agent is named so.
import { api } from '../api/client';
import type { AuditEntry } from '../api/types';
import { he } from '../he';
import { formatDateTime } from '../lib/format';
import { useAsync } from '../lib/useAsync';
import { Auto, Ltr } from './Ltr';
import { ErrorState, Loading } from './States';

/** One entry as a sentence's parts: who, what, and a detail. */
export function auditText(e: AuditEntry): { who: string; what: string; detail: string } {
  const who = e.user_name ?? (e.user_id === null ? he.audit.byAi : '');
  const what = he.audit.action[e.action] ?? e.action;
  const d = e.detail ?? {};
  let detail = '';
  if (typeof d.from === 'string' && typeof d.to === 'string') {
    const name = (s: string) => (he.stage as Record<string, string>)[s] ?? he.appointments.statusName[s] ?? s;
    detail = `${name(d.from)} ← ${name(d.to)}`;
  } else if (Array.isArray(d.fields)) {
    detail = d.fields.join(', ');
  }
  return { who, what, detail };
}

export function AuditLog({ entity, id }: { entity: string; id: number }) {
  const q = useAsync((signal) => api.audit({ entity, id, per_page: 50 }, { signal }), [entity, id]);
  if (q.error) return <ErrorState error={q.error} onRetry={q.reload} />;
  if (q.loading && !q.data) return <Loading rows={2} />;
  const rows = q.data?.rows ?? [];
  return (
    <section className="card flex flex-col gap-2 p-4" data-testid="audit-log">
      <h2>{he.audit.title}</h2>
      {rows.length === 0 ? (
        <p className="text-sm text-subtle">{he.audit.empty}</p>
      ) : (
        <ol className="flex flex-col gap-1 text-sm">
          {rows.map((e) => {
            const t = auditText(e);
            return (
              <li key={e.id} className="flex flex-wrap gap-2" data-testid="audit-entry" data-action={e.action}>
                <Ltr className="text-subtle tabular-nums">{formatDateTime(e.at)}</Ltr>
                <Auto className="font-medium">{t.who}</Auto>
                <span>{t.what}</span>
                {t.detail && <span className="text-subtle">{t.detail}</span>}
              </li>
            );
          })}
        </ol>
      )}
    </section>
  );
}
