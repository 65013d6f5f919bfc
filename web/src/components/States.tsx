// The three states every screen has besides its data (crm-ui.md §1.16):
// loading (a skeleton, announced politely), empty (first run vs nothing
// matches the filter, each with its way out) and error (what failed, and
// a retry). One look for all screens.
import type { ReactNode } from 'react';
import { ApiError } from '../api/client';
import { he } from '../he';

export function Loading({ rows = 3, label = he.common.loading }: { rows?: number; label?: string }) {
  return (
    <div role="status" aria-live="polite" data-testid="loading" className="flex flex-col gap-2 p-4">
      <span className="sr-only">{label}</span>
      {Array.from({ length: rows }, (_, i) => (
        <div key={i} className="h-4 animate-pulse rounded bg-muted motion-reduce:animate-none" style={{ width: `${90 - i * 15}%` }} />
      ))}
    </div>
  );
}

export function Empty({ children, action }: { children: ReactNode; action?: ReactNode }) {
  return (
    <div data-testid="empty" className="flex flex-col items-center gap-3 p-8 text-center text-subtle">
      <p>{children}</p>
      {action}
    </div>
  );
}

/** The Hebrew sentence for an error from the api client. */
export function errorText(e: unknown): string {
  if (e instanceof ApiError) {
    switch (e.code) {
      case 'network':
        return he.errors.network;
      case 'unavailable':
        return he.errors.unavailable;
      case 'forbidden':
        return he.common.forbidden;
      case 'not_found':
        return he.common.notFound;
      case 'invalid':
        return he.errors.invalid;
      case 'conflict':
        return he.errors.conflict;
      case 'csrf':
        return he.errors.csrf;
      default:
        return e.status >= 500 ? he.errors.unavailable : he.errors.generic;
    }
  }
  return he.errors.generic;
}

/** What went wrong with the user's last action, in one line; nothing while error is null. */
export function ActionError({ error, className }: { error: unknown; className?: string }) {
  if (error === null) return null;
  return (
    <p role="alert" className={className ? `${className} text-danger` : 'text-danger'}>
      {errorText(error)}
    </p>
  );
}

/**
 * A loaded screen's body: the load's error with a retry, a skeleton while
 * the first answer is coming, else children.
 */
export function Loaded({ q, rows = 3, children }: { q: { data: unknown; error: unknown; loading: boolean; reload: () => void }; rows?: number; children: ReactNode }) {
  if (q.error) return <ErrorState error={q.error} onRetry={q.reload} />;
  if (q.loading && !q.data) return <Loading rows={rows} />;
  return <>{children}</>;
}

export function ErrorState({ error, onRetry, what = he.errors.load }: { error: unknown; onRetry?: () => void; what?: string }) {
  return (
    <div role="alert" data-testid="error" className="m-4 flex flex-wrap items-center gap-3 rounded border border-danger/40 bg-danger/5 p-4 text-danger">
      <span>
        {what} {errorText(error)}
      </span>
      {onRetry && (
        <button type="button" onClick={onRetry} className="btn btn-secondary">
          {he.common.retry}
        </button>
      )}
    </div>
  );
}
