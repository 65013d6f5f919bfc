// Live updates: one EventSource('/api/events') for the whole app, shared
// through context. Screens subscribe to event names (docs/api.md, "Live
// events") and reload or patch what they show; the top bar shows the
// connection state. EventSource reconnects by itself (the server sends
// retry: 3000); after 10 s without a connection the UI says so.
import { createContext, useCallback, useContext, useEffect, useMemo, useRef, useState, type ReactNode } from 'react';
import { EVENT_NAMES, type EventName, type EventPayloads } from '../api/types';

export type LiveStatus = 'connecting' | 'open' | 'reconnecting' | 'closed';

type Handler<K extends EventName> = (data: EventPayloads[K]) => void;
type AnyHandler = (data: unknown) => void;

export interface EventBus {
  status: LiveStatus;
  lastEventAt: Date | null;
  /** Down for more than 10 s. */
  lost: boolean;
  subscribe: <K extends EventName>(name: K, handler: Handler<K>) => () => void;
}

const EventsContext = createContext<EventBus | null>(null);

export const LOST_AFTER_MS = 10000;

/** The events URL, with the admin's chosen business. */
export function eventsUrl(businessId: number | null, isAdmin: boolean): string {
  return isAdmin && businessId !== null ? `/api/events?business_id=${businessId}` : '/api/events';
}

export function EventsProvider({ url, children }: { url: string | null; children: ReactNode }) {
  const [status, setStatus] = useState<LiveStatus>('connecting');
  const [lastEventAt, setLastEventAt] = useState<Date | null>(null);
  const [lost, setLost] = useState(false);
  const handlers = useRef(new Map<EventName, Set<AnyHandler>>());

  useEffect(() => {
    if (url === null || typeof EventSource === 'undefined') {
      setStatus('closed');
      return undefined;
    }
    const es = new EventSource(url);
    let lostTimer: ReturnType<typeof setTimeout> | null = null;
    const armLost = () => {
      if (lostTimer === null) lostTimer = setTimeout(() => setLost(true), LOST_AFTER_MS);
    };
    const disarm = () => {
      if (lostTimer !== null) clearTimeout(lostTimer);
      lostTimer = null;
      setLost(false);
    };
    setStatus('connecting');
    armLost();
    es.onopen = () => {
      setStatus('open');
      disarm();
    };
    es.onerror = () => {
      // CLOSED: the server refused (401) or the stream is gone for good.
      setStatus(es.readyState === EventSource.CLOSED ? 'closed' : 'reconnecting');
      armLost();
    };
    const listeners = EVENT_NAMES.map((name) => {
      const fn = (ev: MessageEvent<string>) => {
        let data: unknown;
        try {
          data = JSON.parse(ev.data);
        } catch {
          return;
        }
        setLastEventAt(new Date());
        handlers.current.get(name)?.forEach((h) => h(data));
      };
      es.addEventListener(name, fn as EventListener);
      return [name, fn] as const;
    });
    return () => {
      for (const [name, fn] of listeners) es.removeEventListener(name, fn as EventListener);
      es.close();
      if (lostTimer !== null) clearTimeout(lostTimer);
    };
  }, [url]);

  // Stable, so subscribers do not re-subscribe when the status changes.
  const subscribe = useCallback<EventBus['subscribe']>((name, handler) => {
    let set = handlers.current.get(name);
    if (!set) {
      set = new Set();
      handlers.current.set(name, set);
    }
    const h = handler as AnyHandler;
    set.add(h);
    return () => {
      set?.delete(h);
    };
  }, []);

  const bus = useMemo<EventBus>(() => ({ status, lastEventAt, lost, subscribe }), [status, lastEventAt, lost, subscribe]);

  return <EventsContext.Provider value={bus}>{children}</EventsContext.Provider>;
}

const idleBus: EventBus = { status: 'closed', lastEventAt: null, lost: false, subscribe: () => () => undefined };

export function useEvents(): EventBus {
  return useContext(EventsContext) ?? idleBus;
}

/** Call `handler` for each `name` event while the component is mounted. */
export function useEvent<K extends EventName>(name: K, handler: Handler<K>): void {
  const { subscribe } = useEvents();
  const ref = useRef(handler);
  ref.current = handler;
  useEffect(() => subscribe(name, (d) => ref.current(d)), [subscribe, name]);
}
