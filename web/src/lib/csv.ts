// CSV export of what a list shows, for Excel users: UTF-8 with a byte
// order mark (without it Excel reads UTF-8 as the ANSI code page and
// Hebrew turns to mojibake), CRLF line ends, RFC 4180 quoting, and a guard
// against formula injection (a cell starting with = + - @ is prefixed with
// ' so Excel shows it as text instead of running it; phone numbers in
// E.164 start with + and are exactly such cells).
import { stripBidi } from './format';

export const BOM = '\uFEFF';

export interface CsvColumn<T> {
  header: string;
  value: (row: T) => string | number | boolean | null | undefined | string[];
}

const FORMULA_START = /^[=+\-@\t\r]/;

/** One cell, quoted when it holds a comma, quote, CR or LF. */
export function csvCell(v: string | number | boolean | null | undefined | string[]): string {
  if (v === null || v === undefined) return '';
  let s = Array.isArray(v) ? v.join(', ') : String(v);
  s = stripBidi(s);
  if (typeof v === 'string' && FORMULA_START.test(s)) s = `'${s}`;
  if (/[",\r\n]/.test(s)) s = `"${s.replace(/"/g, '""')}"`;
  return s;
}

/** The whole file as a string, BOM first. */
export function toCsv<T>(rows: readonly T[], columns: readonly CsvColumn<T>[]): string {
  const lines = [columns.map((c) => csvCell(c.header)).join(',')];
  for (const r of rows) lines.push(columns.map((c) => csvCell(c.value(r))).join(','));
  return `${BOM}${lines.join('\r\n')}\r\n`;
}

/** The file as UTF-8 bytes in a Blob (the BOM becomes EF BB BF). */
export function csvBlob(csv: string): Blob {
  return new Blob([csv], { type: 'text/csv;charset=utf-8' });
}

/** Offer the CSV as a download named `<name>-<date>.csv`. */
export function downloadCsv(csv: string, name: string, now: Date = new Date()): void {
  const url = URL.createObjectURL(csvBlob(csv));
  const a = document.createElement('a');
  const day = now.toISOString().slice(0, 10);
  a.href = url;
  a.download = `${name}-${day}.csv`;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 0);
}
