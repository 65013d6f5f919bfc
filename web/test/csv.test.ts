// CSV export (src/lib/csv.ts, src/lib/customersCsv.ts): UTF-8 with a BOM
// so Excel reads Hebrew, RFC 4180 quoting, CRLF rows, and formula
// injection defused.
import { describe, expect, it } from 'vitest';
import { BOM, csvBlob, csvCell, toCsv } from '../src/lib/csv';
import { customerCsvColumns } from '../src/lib/customersCsv';
import { customer } from './helpers';

describe('csvCell', () => {
  it('leaves plain values alone', () => {
    expect(csvCell('דנה כהן')).toBe('דנה כהן');
    expect(csvCell(42)).toBe('42');
    expect(csvCell(null)).toBe('');
  });
  it('quotes commas, quotes and line breaks, doubling quotes', () => {
    expect(csvCell('תל אביב, יפו')).toBe('"תל אביב, יפו"');
    expect(csvCell('משרד "שי"')).toBe('"משרד ""שי"""');
    expect(csvCell('שורה\nשנייה')).toBe('"שורה\nשנייה"');
    expect(csvCell('ממ״ד')).toBe('ממ״ד'); // gershayim is not a quote
  });
  it('joins lists with ", " and quotes the result', () => {
    expect(csvCell(['רמת גן', 'גבעתיים'])).toBe('"רמת גן, גבעתיים"');
  });
  it('defuses text that Excel would run as a formula', () => {
    expect(csvCell('=HYPERLINK("http://x")')).toBe('"\'=HYPERLINK(""http://x"")"');
    expect(csvCell('+972501234567')).toBe("'+972501234567");
    expect(csvCell('@SUM(A1)')).toBe("'@SUM(A1)");
    expect(csvCell(-5)).toBe('-5'); // numbers stay numbers
  });
});

/** jsdom's Blob, read the way a browser would. */
function readBlob(b: Blob): Promise<ArrayBuffer> {
  return new Promise((ok, fail) => {
    const r = new FileReader();
    r.onload = () => ok(r.result as ArrayBuffer);
    r.onerror = () => fail(r.error);
    r.readAsArrayBuffer(b);
  });
}

describe('toCsv', () => {
  const rows = [
    { a: 'שלום', b: 1 },
    { a: 'a,b', b: 2 },
  ];
  const cols = [
    { header: 'עמודה א', value: (r: (typeof rows)[number]) => r.a },
    { header: 'עמודה ב', value: (r: (typeof rows)[number]) => r.b },
  ];
  it('starts with a BOM and ends every row with CRLF', () => {
    const s = toCsv(rows, cols);
    expect(s.startsWith(BOM)).toBe(true);
    expect(s).toBe(`${BOM}עמודה א,עמודה ב\r\nשלום,1\r\n"a,b",2\r\n`);
  });
  it('is UTF-8 bytes with EF BB BF first and Hebrew as UTF-8', async () => {
    const blob = csvBlob(toCsv([{ a: 'ש', b: 1 }], cols));
    expect(blob.type).toBe('text/csv;charset=utf-8');
    const bytes = new Uint8Array(await readBlob(blob));
    expect(Array.from(bytes.slice(0, 3))).toEqual([0xef, 0xbb, 0xbf]);
    const text = new TextDecoder('utf-8', { ignoreBOM: true }).decode(bytes);
    expect(text).toContain('ש,1');
    // The row "ש,1" is D7 A9 2C 31 in UTF-8 (ש is U+05E9).
    const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(' ');
    expect(hex).toContain('0d 0a d7 a9 2c 31 0d 0a');
  });
});

describe('customer export columns', () => {
  it('writes Hebrew headers and the values the screen shows', () => {
    const s = toCsv([customer], customerCsvColumns);
    const [header, row] = s.slice(1).split('\r\n');
    expect(header?.startsWith('שם,טלפון,שלב,מסלול,סוג עסקה,ערים,שכונות')).toBe(true);
    expect(row).toContain('דנה כהן,050-123-4567,חדש,קונים ושוכרים,קנייה,תל אביב,הצפון הישן,3.5,4,2800000,3400000');
    expect(row).toContain(',כן,כן,כן,,72,חיובי,שיחה,');
  });
});
