// Reading a CSV file in the browser for the import wizard: the header row
// and a few rows to map and preview (the gateway parses the whole file
// again on import, docs/api.md). RFC 4180 quoting, CRLF or LF, a leading
// BOM dropped, the delimiter guessed from the header row (comma, else
// semicolon or tab), and a guess of which column holds which field.
import type { ImportField } from '../api/types';

export function detectDelimiter(headerLine: string): string {
  if (headerLine.includes(',')) return ',';
  if (headerLine.includes(';')) return ';';
  if (headerLine.includes('\t')) return '\t';
  return ',';
}

/** Parse CSV text into rows of fields; blank lines are skipped; at most maxRows rows. */
export function parseCsv(text: string, maxRows = Number.POSITIVE_INFINITY): string[][] {
  const s = text.startsWith('\ufeff') ? text.slice(1) : text;
  const firstLine = s.split(/\r?\n/, 1)[0] ?? '';
  const delim = detectDelimiter(firstLine);
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  let i = 0;
  const endRow = () => {
    row.push(field);
    field = '';
    if (!(row.length === 1 && row[0] === '')) rows.push(row);
    row = [];
  };
  while (i < s.length && rows.length < maxRows) {
    const ch = s[i] as string;
    if (quoted) {
      if (ch === '"') {
        if (s[i + 1] === '"') {
          field += '"';
          i += 2;
          continue;
        }
        quoted = false;
      } else {
        field += ch;
      }
      i += 1;
      continue;
    }
    if (ch === '"' && field === '') quoted = true;
    else if (ch === delim) {
      row.push(field);
      field = '';
    } else if (ch === '\r' && s[i + 1] === '\n') {
      endRow();
      i += 1;
    } else if (ch === '\n' || ch === '\r') endRow();
    else field += ch;
    i += 1;
  }
  if ((field !== '' || row.length > 0) && rows.length < maxRows) endRow();
  return rows;
}

/** A first mapping: each field to the first header that names it. */
export function guessMapping(headers: readonly string[], words: Record<string, readonly string[]>): Partial<Record<ImportField, string>> {
  const out: Partial<Record<ImportField, string>> = {};
  const used = new Set<string>();
  for (const [field, names] of Object.entries(words)) {
    const h = headers.find((x) => !used.has(x) && names.includes(x.trim().toLowerCase()));
    if (h !== undefined) {
      out[field as ImportField] = h;
      used.add(h);
    }
  }
  return out;
}
