// The app's routes and the gate in front of them: until GET /api/me
// answers, a loading state; signed out, the login screen (at any address,
// which it returns to afterwards); signed in, the layout with the screens
// the user's role may open (docs/api.md "Roles and tenants").
import { useEffect } from 'react';
import { Redirect, Route, Switch, useLocation } from 'wouter';
import { he } from './he';
import { useAuth } from './lib/auth';
import { EventsProvider, eventsUrl } from './lib/events';
import { Layout } from './components/Layout';
import { ErrorState, Loading } from './components/States';
import { Login } from './pages/Login';
import { Dashboard } from './pages/Dashboard';
import { CallsList } from './pages/CallsList';
import { CallDetail } from './pages/CallDetail';
import { CustomersList } from './pages/CustomersList';
import { CustomerDetail } from './pages/CustomerDetail';
import { Settings } from './pages/Settings';
import { NotFound } from './pages/NotFound';
import { LeadsBoard } from './pages/LeadsBoard';
import { Appointments } from './pages/Appointments';
import { Tasks } from './pages/Tasks';
import { Import } from './pages/Import';
import { Users } from './pages/Users';
import type { Permission } from './api/types';
import type { ReactNode } from 'react';

function Allowed({ permission, children }: { permission: Permission; children: ReactNode }) {
  const { can } = useAuth();
  return can(permission) ? (
    <>{children}</>
  ) : (
    <div data-testid="forbidden">
      <ErrorState error={null} what={he.common.forbidden} />
    </div>
  );
}

function SignedIn() {
  const { me, businessId } = useAuth();
  const isAdmin = me?.user.role === 'admin';
  // An admin sees nothing until a business is chosen (the picker does it).
  const url = isAdmin && businessId === null ? null : eventsUrl(businessId, isAdmin);
  return (
    <EventsProvider url={url}>
      <Layout>
        {isAdmin && businessId === null ? (
          <p className="text-subtle" data-testid="choose-business">
            {he.nav.chooseBusiness}
          </p>
        ) : (
          // Keyed by business: an admin switching business reloads every screen.
          <Switch key={businessId ?? 'own'}>
            <Route path="/login">
              <Redirect to="/" replace />
            </Route>
            <Route path="/">
              <Allowed permission="calls.read">
                <Dashboard />
              </Allowed>
            </Route>
            <Route path="/calls">
              <Allowed permission="calls.read">
                <CallsList />
              </Allowed>
            </Route>
            <Route path="/calls/:id">
              {(p) => (
                <Allowed permission="calls.read">
                  <CallDetail id={p.id} />
                </Allowed>
              )}
            </Route>
            <Route path="/customers">
              <Allowed permission="customers.read">
                <CustomersList />
              </Allowed>
            </Route>
            <Route path="/customers/:id">
              {(p) => (
                <Allowed permission="customers.read">
                  <CustomerDetail id={p.id} />
                </Allowed>
              )}
            </Route>
            <Route path="/leads">
              <Allowed permission="customers.read">
                <LeadsBoard />
              </Allowed>
            </Route>
            <Route path="/appointments">
              <Allowed permission="customers.read">
                <Appointments />
              </Allowed>
            </Route>
            <Route path="/tasks">
              <Allowed permission="customers.read">
                <Tasks />
              </Allowed>
            </Route>
            <Route path="/import">
              <Allowed permission="customers.import">
                <Import />
              </Allowed>
            </Route>
            <Route path="/users">
              <Allowed permission="users.manage">
                <Users />
              </Allowed>
            </Route>
            <Route path="/settings">
              <Allowed permission="settings.read">
                <Settings />
              </Allowed>
            </Route>
            <Route>
              <NotFound />
            </Route>
          </Switch>
        )}
      </Layout>
    </EventsProvider>
  );
}

/** Signed out at some address: show login there, keep ?next= for after. */
function SignedOut() {
  const [location, navigate] = useLocation();
  useEffect(() => {
    if (location !== '/login') {
      const next = encodeURIComponent(location + window.location.search);
      navigate(`/login?next=${next}`, { replace: true });
    }
  }, [location, navigate]);
  return <Login />;
}

export function App() {
  const { status, error, refresh } = useAuth();
  if (status === 'loading') return <Loading rows={3} />;
  if (status === 'error') return <ErrorState error={error} onRetry={() => void refresh()} />;
  if (status === 'signed-out') return <SignedOut />;
  return <SignedIn />;
}
