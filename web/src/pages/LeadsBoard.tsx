// The leads board (issue #13, crm-ui.md): one kanban per pipeline (buyers
// and renters; sellers and landlords), a column per stage with its count
// and total budget, cards flagged after N days without activity. A card
// moves by mouse (drag and drop) or keyboard (Space/Enter picks it up,
// arrows carry it between columns, Space/Enter drops, Escape cancels),
// optimistically, with a rollback when PATCH /api/customers/{id} fails.
import { useEffect, useMemo, useRef, useState } from 'react';
import type { DragEvent, KeyboardEvent } from 'react';
import { Link, useSearch, useLocation } from 'wouter';
import { api } from '../api/client';
import type { Customer, Pipeline, Stage } from '../api/types';
import { Auto, Money, Phone } from '../components/Ltr';
import { Loaded, errorText } from '../components/States';
import { he } from '../he';
import { useAuth } from '../lib/auth';
import { IDLE_DAYS_DEFAULT, groupByStage, idleDays, keyMove } from '../lib/board';
import { useEvent } from '../lib/events';
import { useAsync } from '../lib/useAsync';

const PIPELINES: readonly Pipeline[] = ['buyer_renter', 'seller_landlord'];

function stageName(s: string): string {
  return he.stage[s as Stage] ?? s;
}

function Card({
  c,
  idle,
  grabbed,
  canMove,
  onKey,
}: {
  c: Customer;
  idle: number | null;
  grabbed: boolean;
  canMove: boolean;
  onKey: (e: KeyboardEvent<HTMLLIElement>, c: Customer) => void;
}) {
  const onDragStart = (e: DragEvent<HTMLLIElement>) => {
    e.dataTransfer.setData('text/plain', String(c.id));
    e.dataTransfer.effectAllowed = 'move';
  };
  return (
    <li
      className={`card flex flex-col gap-1 p-3 text-sm ${grabbed ? 'ring-2 ring-primary' : ''} ${idle !== null ? 'border-warning' : ''}`}
      draggable={canMove}
      onDragStart={onDragStart}
      tabIndex={canMove ? 0 : -1}
      aria-roledescription={he.board.title}
      aria-pressed={canMove ? grabbed : undefined}
      aria-describedby="board-help"
      onKeyDown={(e) => onKey(e, c)}
      data-testid="kanban-card"
      data-id={c.id}
      data-idle={idle !== null ? 'true' : undefined}
    >
      <Link href={`/customers/${c.id}`} className="font-medium text-primary hover:underline" draggable={false}>
        {c.name ? <Auto>{c.name}</Auto> : he.board.noName}
      </Link>
      <Phone value={c.phone} />
      {(c.budget_max ?? c.budget_min) !== null && <Money value={c.budget_max ?? c.budget_min} className="text-subtle" />}
      {idle !== null && (
        <span className="self-start rounded-full bg-warning/15 px-2 text-xs" data-testid="idle-flag">
          {he.board.idle(idle)}
        </span>
      )}
    </li>
  );
}

export function LeadsBoard() {
  const { can } = useAuth();
  const canMove = can('customers.write');
  const search = useSearch();
  const [, navigate] = useLocation();
  const pipeline: Pipeline = new URLSearchParams(search).get('pipeline') === 'seller_landlord' ? 'seller_landlord' : 'buyer_renter';
  const q = useAsync((signal) => api.customers({ page: 1, per_page: 200, filters: { pipeline } }, { signal }), [pipeline]);
  const [idleLimit, setIdleLimit] = useState(IDLE_DAYS_DEFAULT);
  const [grab, setGrab] = useState<{ id: number; from: string; to: Stage } | null>(null);
  const [say, setSay] = useState('');
  const [moveError, setMoveError] = useState<unknown>(null);
  const focusId = useRef<number | null>(null);
  const now = Date.now();

  useEvent('lead', (lead) => {
    q.setData((d) => (d ? { ...d, rows: d.rows.map((r) => (r.id === lead.id ? { ...r, ...lead } : r)) } : d));
  });

  // A card moved between columns is a new element: give it the focus back.
  useEffect(() => {
    if (focusId.current === null) return;
    const el = document.querySelector<HTMLElement>(`[data-testid="kanban-card"][data-id="${focusId.current}"]`);
    el?.focus();
  });

  const rows = q.data?.rows ?? [];
  // While a card is carried by keyboard it is drawn in its target column.
  const shown = useMemo(() => (grab ? rows.map((r) => (r.id === grab.id ? { ...r, stage: grab.to } : r)) : rows), [rows, grab]);
  const columns = useMemo(() => groupByStage(shown), [shown]);

  const move = async (id: number, to: string) => {
    const old = rows.find((r) => r.id === id);
    if (!old || old.stage === to) return;
    setMoveError(null);
    q.setData((d) => (d ? { ...d, rows: d.rows.map((r) => (r.id === id ? { ...r, stage: to } : r)) } : d));
    setSay(he.board.movedTo(old.name ?? he.board.noName, stageName(to)));
    try {
      const r = await api.updateCustomer(id, { stage: to });
      q.setData((d) => (d ? { ...d, rows: d.rows.map((x) => (x.id === id ? { ...x, ...r.customer } : x)) } : d));
    } catch (e) {
      q.setData((d) => (d ? { ...d, rows: d.rows.map((x) => (x.id === id ? { ...x, stage: old.stage } : x)) } : d));
      setMoveError(e);
      setSay(he.board.moveFailed);
    }
  };

  const onKey = (e: KeyboardEvent<HTMLLIElement>, c: Customer) => {
    if (!canMove) return;
    const name = c.name ?? he.board.noName;
    if (e.key === ' ' || e.key === 'Enter') {
      e.preventDefault();
      focusId.current = c.id;
      if (!grab) {
        setGrab({ id: c.id, from: c.stage, to: (c.stage as Stage) ?? 'new' });
        setSay(he.board.grabbed(name, stageName(c.stage)));
      } else {
        const g = grab;
        setGrab(null);
        void move(g.id, g.to);
      }
      return;
    }
    if (e.key === 'Escape' && grab) {
      e.preventDefault();
      setGrab(null);
      setSay(he.board.cancelled);
      return;
    }
    if (grab && grab.id === c.id) {
      const rtl = getComputedStyle(e.currentTarget).direction !== 'ltr';
      const to = keyMove(grab.to, e.key, rtl);
      if (to) {
        e.preventDefault();
        setGrab({ ...grab, to });
        setSay(stageName(to));
      }
    }
  };

  const onDrop = (e: DragEvent<HTMLElement>, stage: Stage) => {
    e.preventDefault();
    const id = Number(e.dataTransfer.getData('text/plain'));
    if (Number.isFinite(id) && id > 0) void move(id, stage);
  };

  return (
    <section className="flex flex-col gap-4">
      <div className="flex flex-wrap items-center gap-3">
        <h1 tabIndex={-1}>{he.board.title}</h1>
        <div className="flex gap-1" role="tablist">
          {PIPELINES.map((p) => (
            <button
              key={p}
              type="button"
              role="tab"
              aria-selected={p === pipeline}
              className={`btn ${p === pipeline ? 'btn-primary' : 'btn-secondary'}`}
              onClick={() => navigate(`/leads?pipeline=${p}`)}
              data-testid={`pipeline-${p}`}
            >
              {he.pipeline[p]}
            </button>
          ))}
        </div>
        <label className="ms-auto flex items-center gap-2 text-sm">
          {he.board.idleDays}
          <input
            type="number"
            min={1}
            max={365}
            dir="ltr"
            className="input w-20 text-end"
            value={idleLimit}
            onChange={(e) => setIdleLimit(Math.max(1, Number(e.target.value) || IDLE_DAYS_DEFAULT))}
            data-testid="board-idle-days"
          />
        </label>
      </div>
      <p id="board-help" className="text-sm text-subtle">
        {he.board.grabHelp}
      </p>
      <p className="sr-only" aria-live="assertive" data-testid="board-live">
        {say}
      </p>
      {moveError !== null && (
        <p role="alert" className="text-danger" data-testid="board-error">
          {he.board.moveFailed} {errorText(moveError)}
        </p>
      )}
      <Loaded q={q}>
        <div className="flex gap-3 overflow-x-auto pb-2" data-testid={`kanban-${pipeline}`}>
          {columns.map((col) => (
            <section
              key={col.stage}
              className="flex w-60 shrink-0 flex-col gap-2 rounded-lg bg-muted/60 p-2"
              aria-label={stageName(col.stage)}
              onDragOver={(e) => {
                e.preventDefault();
                e.dataTransfer.dropEffect = 'move';
              }}
              onDrop={(e) => onDrop(e, col.stage)}
              data-testid="kanban-column"
              data-stage={col.stage}
            >
              <header className="flex flex-col px-1">
                <h2 className="text-base">{stageName(col.stage)}</h2>
                <span className="text-xs text-subtle" data-testid="column-count" data-count={col.count}>
                  {he.board.count(col.count)}
                </span>
                <span className="text-xs text-subtle" data-testid="column-total" data-total={col.budget}>
                  {he.board.total}: <Money value={col.budget} />
                </span>
              </header>
              {col.cards.length === 0 ? (
                <p className="p-2 text-xs text-subtle">{he.board.empty}</p>
              ) : (
                <ol className="flex flex-col gap-2">
                  {col.cards.map((c) => (
                    <Card key={c.id} c={c} idle={idleDays(c, now, idleLimit)} grabbed={grab?.id === c.id} canMove={canMove} onKey={onKey} />
                  ))}
                </ol>
              )}
            </section>
          ))}
        </div>
      </Loaded>
    </section>
  );
}
