// The login screen (crm-ui.md §1.1): e-mail and password, one generic
// error for a wrong pair (the server does not say which was wrong), the
// rate limit's wait in minutes, and back to the page the user came from.
import { useState, type FormEvent } from 'react';
import { useLocation, useSearch } from 'wouter';
import { ApiError, api } from '../api/client';
import { he } from '../he';
import { useAuth } from '../lib/auth';
import { useAction } from '../lib/useAction';

/** Where to go after login: a same-site path from ?next=, else "/". */
export function safeNext(search: string): string {
  const next = new URLSearchParams(search).get('next') ?? '/';
  return next.startsWith('/') && !next.startsWith('//') && !next.startsWith('/login') ? next : '/';
}

/** One generic sentence for a wrong pair; the rate limit's wait in minutes. */
function loginErrorText(err: unknown): string {
  if (err instanceof ApiError && err.status === 429) {
    const secs = err.body?.retry_after ?? 60;
    return he.login.rateLimited(Math.max(1, Math.ceil(secs / 60)));
  }
  if (err instanceof ApiError && (err.status === 401 || err.status === 400)) return he.login.failed;
  return he.login.error;
}

export function Login() {
  const { refresh } = useAuth();
  const search = useSearch();
  const [, navigate] = useLocation();
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const { busy, error, run } = useAction();

  const submit = (e: FormEvent) => {
    e.preventDefault();
    void run(async () => {
      await api.login(email.trim(), password);
      await refresh();
      navigate(safeNext(search), { replace: true });
    });
  };

  return (
    <main className="flex min-h-screen items-center justify-center bg-bg p-4">
      <form onSubmit={submit} className="card flex w-full max-w-sm flex-col gap-4 p-6" data-testid="login-form" noValidate>
        <h1 className="text-center">{he.login.title}</h1>
        <div>
          <label htmlFor="email" className="label">
            {he.login.email}
          </label>
          <input
            id="email"
            name="email"
            type="email"
            dir="ltr"
            inputMode="email"
            autoComplete="username"
            required
            className="input text-end"
            value={email}
            onChange={(e) => setEmail(e.target.value)}
            data-testid="login-email"
          />
        </div>
        <div>
          <label htmlFor="password" className="label">
            {he.login.password}
          </label>
          <input
            id="password"
            name="password"
            type="password"
            dir="ltr"
            autoComplete="current-password"
            required
            className="input text-end"
            value={password}
            onChange={(e) => setPassword(e.target.value)}
            data-testid="login-password"
          />
        </div>
        {error !== null && (
          <p role="alert" className="text-sm text-danger" data-testid="login-error">
            {loginErrorText(error)}
          </p>
        )}
        <button type="submit" className="btn btn-primary" disabled={busy || email === '' || password === ''} data-testid="login-submit">
          {busy ? he.login.submitting : he.login.submit}
        </button>
      </form>
    </main>
  );
}
