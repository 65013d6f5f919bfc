// One user action at a time (a form's submit): `busy` while it runs, so
// the button can say "saving" and refuse a second click, and the error it
// threw (null after a success) for the form to show. Written once for
// every form, which differ only in what they send and how they word a
// failure.
import { useCallback, useState } from 'react';

export interface ActionState {
  busy: boolean;
  error: unknown;
  /** Run action, unless one runs already; its error is kept, not thrown. */
  run: (action: () => Promise<void>) => Promise<void>;
}

export function useAction(): ActionState {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const run = useCallback(async (action: () => Promise<void>) => {
    setBusy(true);
    setError(null);
    try {
      await action();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }, []);
  return { busy, error, run };
}
