// Who is signed in, and what they may see. The app asks GET /api/me once
// at start (which also yields the CSRF token); screens and the sidebar ask
// `can(permission)`. The gateway enforces the same rules on every request
// (docs/api.md, "Roles and tenants"); this only hides what would be refused.
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import { ApiError, api, setBusinessScope, setUnauthorizedHandler } from '../api/client';
import type { Me, Permission, Role } from '../api/types';

/** An owner's permissions: everything within the business. */
const OWNER_PERMISSIONS: readonly Permission[] = [
  'calls.read',
  'customers.read',
  'customers.write',
  'customers.assign',
  'customers.export',
  'customers.import',
  'users.manage',
  'audit.read',
  'settings.read',
  'settings.write',
];

/** What each role may do when the server sends no list (docs/api.md). */
export const ROLE_PERMISSIONS: Record<Role, readonly Permission[]> = {
  admin: [...OWNER_PERMISSIONS, 'businesses.all'],
  owner: OWNER_PERMISSIONS,
  agent: ['calls.read', 'customers.read', 'customers.write', 'settings.read'],
};

export function permissionsOf(me: Pick<Me, 'user' | 'permissions'> | null): ReadonlySet<Permission> {
  if (!me) return new Set();
  const list = me.permissions && me.permissions.length > 0 ? me.permissions : ROLE_PERMISSIONS[me.user.role];
  return new Set(list);
}

type Status = 'loading' | 'signed-in' | 'signed-out' | 'error';

export interface AuthValue {
  status: Status;
  me: Me | null;
  error: ApiError | null;
  can: (p: Permission) => boolean;
  refresh: () => Promise<void>;
  signOut: () => Promise<void>;
  businessId: number | null;
  setBusinessId: (id: number | null) => void;
}

const AuthContext = createContext<AuthValue | null>(null);

export function AuthProvider({ children, initial }: { children: ReactNode; initial?: Me | null }) {
  const [me, setMe] = useState<Me | null>(initial ?? null);
  const [status, setStatus] = useState<Status>(initial ? 'signed-in' : 'loading');
  const [error, setError] = useState<ApiError | null>(null);
  const [businessId, setBusinessIdState] = useState<number | null>(initial?.business?.id ?? null);

  const refresh = useCallback(async () => {
    try {
      const m = await api.me();
      setMe(m);
      setError(null);
      setStatus('signed-in');
      if (m.user.role !== 'admin') setBusinessIdState(m.user.business_id);
    } catch (e) {
      setMe(null);
      if (e instanceof ApiError && e.status === 401) {
        setStatus('signed-out');
      } else {
        setError(e instanceof ApiError ? e : new ApiError(0, 'network', null));
        setStatus('error');
      }
    }
  }, []);

  useEffect(() => {
    // While the app runs, a 401 signs the user out in place (the router
    // then shows the login screen and comes back to where they were).
    setUnauthorizedHandler(() => {
      setMe(null);
      setStatus('signed-out');
    });
    if (!initial) void refresh();
    return () => setUnauthorizedHandler(null);
  }, [initial, refresh]);

  const setBusinessId = useCallback((id: number | null) => {
    setBusinessScope(id);
    setBusinessIdState(id);
  }, []);

  const signOut = useCallback(async () => {
    try {
      await api.logout();
    } finally {
      setMe(null);
      setStatus('signed-out');
    }
  }, []);

  const value = useMemo<AuthValue>(() => {
    const perms = permissionsOf(me);
    return { status, me, error, can: (p) => perms.has(p), refresh, signOut, businessId, setBusinessId };
  }, [status, me, error, refresh, signOut, businessId, setBusinessId]);

  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

export function useAuth(): AuthValue {
  const v = useContext(AuthContext);
  if (!v) throw new Error('useAuth outside AuthProvider');
  return v;
}
