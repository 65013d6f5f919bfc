// The login screen (crm-ui.md §1.1): e-mail and password, one generic
// error for a wrong pair (the server does not say which was wrong), the
// rate limit's wait in minutes, and back to the page the user came from.
import { useState, type FormEvent } from 'react';
import { useLocation, useSearch } from 'wouter';
import { ApiError, api } from '../api/client';
import { he } from '../he';
import { useAuth } from '../lib/auth';

/** Where to go after login: a same-site path from ?next=, else "/". */
export function safeNext(search: string): string {
  const next = new URLSearchParams(search).get('next') ?? '/';
  return next.startsWith('/') && !next.startsWith('//') && !next.startsWith('/login') ? next : '/';
}

export function Login() {
  const { refresh } = useAuth();
  const search = useSearch();
  const [, navigate] = useLocation();
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await api.login(email.trim(), password);
      await refresh();
      navigate(safeNext(search), { replace: true });
    } catch (err) {
      if (err instanceof ApiError && err.status === 429) {
        const secs = err.body?.retry_after ?? 60;
        setError(he.login.rateLimited(Math.max(1, Math.ceil(secs / 60))));
      } else if (err instanceof ApiError && (err.status === 401 || err.status === 400)) {
        setError(he.login.failed);
      } else {
        setError(he.login.error);
      }
      setBusy(false);
    }
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
        {error && (
          <p role="alert" className="text-sm text-danger" data-testid="login-error">
            {error}
          </p>
        )}
        <button type="submit" className="btn btn-primary" disabled={busy || email === '' || password === ''} data-testid="login-submit">
          {busy ? he.login.submitting : he.login.submit}
        </button>
      </form>
    </main>
  );
}
