// Users and roles (issue #13; owner and admin, permission users.manage):
// the business's users, a new user with the one-time password shown once
// (never kept in state after the panel closes), the role of each user and
// deactivation. The gateway refuses agents (403) whatever the UI shows.
import { useState } from 'react';
import type { FormEvent } from 'react';
import { ApiError, api } from '../api/client';
import type { UserRow } from '../api/types';
import { Auto, Email, Ltr } from '../components/Ltr';
import { ActionError, Loaded, errorText } from '../components/States';
import { he } from '../he';
import { useAuth } from '../lib/auth';
import { formatDateTime } from '../lib/format';
import { useAction } from '../lib/useAction';
import { useAsync } from '../lib/useAsync';

const U = he.users;
type EditableRole = 'owner' | 'agent';

function NewUser({ onCreated }: { onCreated: (u: UserRow, password: string) => void }) {
  const [email, setEmail] = useState('');
  const [name, setName] = useState('');
  const [role, setRole] = useState<EditableRole>('agent');
  const { busy, error, run } = useAction();

  const submit = (e: FormEvent) => {
    e.preventDefault();
    void run(async () => {
      const r = await api.createUser({ email: email.trim(), name: name.trim(), role });
      setEmail('');
      setName('');
      onCreated(r.user, r.password);
    });
  };

  return (
    <form className="card flex flex-wrap items-end gap-3 p-4" onSubmit={submit} data-testid="user-form">
      <label className="flex flex-col gap-1">
        <span className="label">{U.email}</span>
        <input className="input text-end" type="email" dir="ltr" required value={email} onChange={(e) => setEmail(e.target.value)} data-testid="user-email" />
      </label>
      <label className="flex flex-col gap-1">
        <span className="label">{U.name}</span>
        <input className="input" dir="auto" value={name} onChange={(e) => setName(e.target.value)} data-testid="user-name" />
      </label>
      <label className="flex flex-col gap-1">
        <span className="label">{U.role}</span>
        <select className="input" value={role} onChange={(e) => setRole(e.target.value as EditableRole)} data-testid="user-role">
          <option value="agent">{he.roles.agent}</option>
          <option value="owner">{he.roles.owner}</option>
        </select>
      </label>
      <button type="submit" className="btn btn-primary" disabled={busy} data-testid="user-submit">
        {busy ? he.common.saving : U.newUser}
      </button>
      {error !== null && (
        <p role="alert" className="w-full text-danger">
          {error instanceof ApiError && error.code === 'conflict' ? U.emailTaken : errorText(error)}
        </p>
      )}
    </form>
  );
}

export function Users() {
  const { me } = useAuth();
  const q = useAsync((signal) => api.users({ signal }), []);
  const [secret, setSecret] = useState<{ email: string; password: string } | null>(null);
  const [error, setError] = useState<unknown>(null);

  const patch = async (u: UserRow, p: { role?: EditableRole; active?: boolean }) => {
    setError(null);
    try {
      const r = await api.updateUser(u.id, p);
      q.setData((d) => (d ? { rows: d.rows.map((x) => (x.id === u.id ? r.user : x)) } : d));
    } catch (e) {
      setError(e);
    }
  };

  return (
    <section className="flex flex-col gap-4">
      <h1 tabIndex={-1}>{U.title}</h1>
      <NewUser
        onCreated={(u, password) => {
          setSecret({ email: u.email, password });
          q.setData((d) => (d ? { rows: [...d.rows, u] } : d));
        }}
      />
      {secret && (
        <div className="card flex flex-wrap items-center gap-3 border-warning p-4" role="status" data-testid="one-time-password">
          <span>{U.oneTimePassword}</span>
          <Email value={secret.email} />
          <code dir="ltr" className="rounded bg-muted px-2 py-1 font-mono" data-testid="one-time-password-value">
            {secret.password}
          </code>
          <button type="button" className="btn btn-secondary" onClick={() => void navigator.clipboard?.writeText(secret.password)}>
            {U.copy}
          </button>
          <button type="button" className="btn btn-secondary ms-auto" onClick={() => setSecret(null)}>
            {he.common.cancel}
          </button>
        </div>
      )}
      <ActionError error={error} />
      <Loaded q={q}>
        <table className="card w-full text-sm" data-testid="users-table">
          <thead className="bg-muted">
            <tr>
              <th className="p-2 text-start">{U.name}</th>
              <th className="p-2 text-start">{U.email}</th>
              <th className="p-2 text-start">{U.role}</th>
              <th className="p-2 text-start">{U.lastLogin}</th>
              <th className="p-2 text-start">{U.active}</th>
            </tr>
          </thead>
          <tbody>
            {q.data?.rows.map((u) => {
              const self = u.id === me?.user.id;
              return (
                <tr key={u.id} className={`border-t border-border ${u.active ? '' : 'text-subtle'}`} data-testid="row" data-row-id={u.id}>
                  <td className="p-2">
                    <Auto>{u.name}</Auto> {self && U.you}
                  </td>
                  <td className="p-2">
                    <Email value={u.email} />
                  </td>
                  <td className="p-2">
                    {u.role === 'admin' || self ? (
                      he.roles[u.role]
                    ) : (
                      <select className="input w-auto" value={u.role} onChange={(e) => void patch(u, { role: e.target.value as EditableRole })} aria-label={U.role} data-testid="user-row-role">
                        <option value="agent">{he.roles.agent}</option>
                        <option value="owner">{he.roles.owner}</option>
                      </select>
                    )}
                  </td>
                  <td className="p-2">
                    {u.last_login_at ? <Ltr className="tabular-nums">{formatDateTime(u.last_login_at)}</Ltr> : U.never}
                  </td>
                  <td className="p-2">
                    {u.active ? U.active : U.inactive}{' '}
                    {!self && u.role !== 'admin' && (
                      <button type="button" className="btn btn-secondary ms-2" onClick={() => void patch(u, { active: !u.active })} data-testid="user-toggle-active">
                        {u.active ? U.deactivate : U.activate}
                      </button>
                    )}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </Loaded>
    </section>
  );
}
