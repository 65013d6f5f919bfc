// The leads board's arithmetic, kept out of the component so Vitest can
// hold it to the rules of crm-ui.md (issue #13): leads grouped by stage in
// the pipeline's order, a column's count and total budget, "idle" after N
// days without activity, and where a keyboard move lands (in an RTL page
// the next stage is to the left).
import type { Customer, Stage } from '../api/types';
import { STAGES } from '../api/types';

export const IDLE_DAYS_DEFAULT = 7;
const DAY_MS = 24 * 3600 * 1000;

export interface Column {
  stage: Stage;
  cards: Customer[];
  count: number;
  budget: number;
}

/** A lead's budget for the column total: the top of its range, else the bottom. */
export function leadBudget(c: Pick<Customer, 'budget_min' | 'budget_max'>): number {
  const v = c.budget_max ?? c.budget_min;
  return typeof v === 'number' && Number.isFinite(v) ? v : 0;
}

/** Columns in stage order; a lead with an unknown stage goes to the first. */
export function groupByStage(rows: readonly Customer[]): Column[] {
  const cols = STAGES.map((stage) => ({ stage, cards: [] as Customer[], count: 0, budget: 0 }));
  for (const r of rows) {
    const col = cols.find((c) => c.stage === r.stage) ?? cols[0];
    if (!col) continue;
    col.cards.push(r);
    col.count += 1;
    col.budget += leadBudget(r);
  }
  return cols;
}

/** When the lead last moved: last_activity_at, else updated_at. */
export function lastActivity(c: Pick<Customer, 'updated_at' | 'last_activity_at'>): number {
  const t = new Date(c.last_activity_at ?? c.updated_at).getTime();
  return Number.isFinite(t) ? t : 0;
}

/** Whole days without activity, or null when the lead is not idle. */
export function idleDays(c: Pick<Customer, 'updated_at' | 'last_activity_at' | 'stage'>, now: number, limit: number): number | null {
  if (c.stage === 'won' || c.stage === 'lost' || limit <= 0) return null;
  const days = Math.floor((now - lastActivity(c)) / DAY_MS);
  return days >= limit ? days : null;
}

/**
 * The stage a keyboard move lands on: ArrowLeft goes to the next stage in
 * an RTL page (ArrowRight in LTR), Home/End to the first/last. Returns the
 * same stage at either end.
 */
export function keyMove(stage: string, key: string, rtl = true): Stage | null {
  const i = Math.max(0, STAGES.indexOf(stage as Stage));
  const forward = rtl ? 'ArrowLeft' : 'ArrowRight';
  const back = rtl ? 'ArrowRight' : 'ArrowLeft';
  let j: number;
  if (key === forward) j = Math.min(STAGES.length - 1, i + 1);
  else if (key === back) j = Math.max(0, i - 1);
  else if (key === 'Home') j = 0;
  else if (key === 'End') j = STAGES.length - 1;
  else return null;
  return STAGES[j] ?? null;
}
