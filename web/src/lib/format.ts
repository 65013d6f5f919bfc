// Numbers, money, dates, durations and phone numbers as Hebrew readers in
// Israel expect them (he-IL, Asia/Jerusalem, ₪ after the number, 24 h,
// Western digits). Every screen formats through here so one test covers
// them all; the strings that carry Latin digits are then shown inside LTR
// islands (components/Ltr.tsx).

export const LOCALE = 'he-IL';
export const TIME_ZONE = 'Asia/Jerusalem';

const numberFmt = new Intl.NumberFormat(LOCALE);
const moneyFmt = new Intl.NumberFormat(LOCALE, { style: 'currency', currency: 'ILS', maximumFractionDigits: 0 });
const compactMoneyFmt = new Intl.NumberFormat(LOCALE, { notation: 'compact', compactDisplay: 'short', maximumFractionDigits: 1 });
const dateFmt = new Intl.DateTimeFormat(LOCALE, { timeZone: TIME_ZONE, day: 'numeric', month: 'numeric', year: 'numeric' });
const timeFmt = new Intl.DateTimeFormat(LOCALE, { timeZone: TIME_ZONE, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
const longFmt = new Intl.DateTimeFormat(LOCALE, { timeZone: TIME_ZONE, dateStyle: 'full', timeStyle: 'short', hourCycle: 'h23' });
const relFmt = new Intl.RelativeTimeFormat('he', { numeric: 'auto' });

/** Bidi control marks Intl inserts (RLM, LRM, ALM); tests and CSV drop them. */
export function stripBidi(s: string): string {
  return s.replace(/[\u200e\u200f\u061c]/g, '');
}

function isNum(n: number | null | undefined): n is number {
  return typeof n === 'number' && Number.isFinite(n);
}

/** 1234567 → "1,234,567". */
export function formatNumber(n: number | null | undefined): string {
  return isNum(n) ? numberFmt.format(n) : '';
}

/** 1200000 → "1,200,000 ₪" (with he-IL's own marks and no-break space). */
export function formatMoney(n: number | null | undefined): string {
  return isNum(n) ? moneyFmt.format(n) : '';
}

/** A budget range: "2.8M–3.4M ₪"-like compact text, or one bound. */
export function formatBudget(min: number | null | undefined, max: number | null | undefined): string {
  // Without Intl's RLMs: inside an LTR island they would reorder the range.
  const c = (n: number) => stripBidi(compactMoneyFmt.format(n));
  if (isNum(min) && isNum(max)) return min === max ? `${c(min)} ₪` : `${c(min)}–${c(max)} ₪`;
  if (isNum(max)) return `≤ ${c(max)} ₪`;
  if (isNum(min)) return `≥ ${c(min)} ₪`;
  return '';
}

/** Rooms in halves: 3.5–4, or one value. */
export function formatRooms(min: number | string | null | undefined, max: number | string | null | undefined): string {
  const n = (v: number | string | null | undefined) => (v === null || v === undefined || v === '' ? null : Number(v));
  const a = n(min);
  const b = n(max);
  const f = (v: number) => numberFmt.format(v);
  if (a !== null && b !== null) return a === b ? f(a) : `${f(a)}–${f(b)}`;
  if (a !== null) return `${f(a)}+`;
  if (b !== null) return `≤ ${f(b)}`;
  return '';
}

function toDate(v: string | number | Date | null | undefined): Date | null {
  if (v === null || v === undefined || v === '') return null;
  const d = v instanceof Date ? v : new Date(v);
  return Number.isNaN(d.getTime()) ? null : d;
}

/** "5.3.2026" in Israel's time zone. */
export function formatDate(v: string | number | Date | null | undefined): string {
  const d = toDate(v);
  return d ? dateFmt.format(d) : '';
}

/** "16:30" (24 h) in Israel's time zone. */
export function formatTime(v: string | number | Date | null | undefined): string {
  const d = toDate(v);
  return d ? timeFmt.format(d) : '';
}

/** "5.3.2026 16:30". */
export function formatDateTime(v: string | number | Date | null | undefined): string {
  const d = toDate(v);
  return d ? `${dateFmt.format(d)} ${timeFmt.format(d)}` : '';
}

/** "יום חמישי, 5 במרץ 2026 בשעה 16:30" (for titles and tooltips). */
export function formatLong(v: string | number | Date | null | undefined): string {
  const d = toDate(v);
  return d ? longFmt.format(d) : '';
}

/** "לפני 5 דקות", "אתמול", "בעוד שעתיים" relative to now. */
export function formatRelative(v: string | number | Date | null | undefined, now: Date = new Date()): string {
  const d = toDate(v);
  if (!d) return '';
  const s = Math.round((d.getTime() - now.getTime()) / 1000);
  const a = Math.abs(s);
  if (a < 45) return relFmt.format(0, 'second');
  if (a < 45 * 60) return relFmt.format(Math.round(s / 60), 'minute');
  if (a < 22 * 3600) return relFmt.format(Math.round(s / 3600), 'hour');
  if (a < 26 * 86400) return relFmt.format(Math.round(s / 86400), 'day');
  return formatDate(d);
}

/** Seconds as "m:ss" (or "h:mm:ss" from an hour); "" when unknown. */
export function formatDuration(seconds: number | null | undefined): string {
  if (!isNum(seconds) || seconds < 0) return '';
  const t = Math.floor(seconds);
  const h = Math.floor(t / 3600);
  const m = Math.floor((t % 3600) / 60);
  const s = t % 60;
  const ss = String(s).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

/** An offset into a call in milliseconds as "mm:ss". */
export function formatOffset(ms: number | null | undefined): string {
  if (!isNum(ms) || ms < 0) return '';
  const t = Math.floor(ms / 1000);
  return `${String(Math.floor(t / 60)).padStart(2, '0')}:${String(t % 60).padStart(2, '0')}`;
}

/** A latency: "850 ms" under a second, else "1.25 s" (shown LTR). */
export function formatLatency(ms: number | null | undefined): string {
  if (!isNum(ms) || ms < 0) return '';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(2)} s`;
}

/**
 * E.164 to the way Israelis write it: +972501234567 → "050-123-4567",
 * +97235550100 → "03-555-0100"; other countries stay E.164.
 */
export function formatPhone(e164: string | null | undefined): string {
  if (!e164) return '';
  const m = /^\+972(\d{8,9})$/.exec(e164);
  if (!m || m[1] === undefined) return e164;
  const local = `0${m[1]}`;
  if (local.length === 10) return `${local.slice(0, 3)}-${local.slice(3, 6)}-${local.slice(6)}`;
  return `${local.slice(0, 2)}-${local.slice(2, 5)}-${local.slice(5)}`;
}

/**
 * What a person typed (050-123 4567, +972 50…, 972…) to E.164, or null
 * when it cannot be a phone number.
 */
export function toE164(input: string): string | null {
  const t = input.trim();
  const digits = t.replace(/\D/g, '');
  let e: string;
  if (t.startsWith('+')) e = `+${digits}`;
  else if (digits.startsWith('972')) e = `+${digits}`;
  else if (digits.startsWith('0')) e = `+972${digits.slice(1)}`;
  else return null;
  return /^\+[1-9]\d{6,14}$/.test(e) ? e : null;
}

/** Hebrew plural forms (one / two / other) for counts in sentences. */
const plural = new Intl.PluralRules('he');
export function pluralize(n: number, forms: { one: string; two: string; other: string }): string {
  const k = plural.select(n);
  if (k === 'one') return forms.one;
  if (k === 'two') return forms.two;
  return forms.other;
}
