// he-IL formatting (src/lib/format.ts): ₪ after the number, Israel's time
// zone whatever the machine's, 24-hour times, d.m.yyyy dates, m:ss
// durations, Israeli phone forms. Intl inserts bidi marks (RLM/LRM); the
// tests compare with them stripped and check separately that they exist.
import { describe, expect, it } from 'vitest';
import {
  formatBudget,
  formatDate,
  formatDateTime,
  formatDuration,
  formatLatency,
  formatLong,
  formatMoney,
  formatNumber,
  formatOffset,
  formatPhone,
  formatRelative,
  formatRooms,
  formatTime,
  pluralize,
  stripBidi,
  toE164,
} from '../src/lib/format';

describe('numbers and money', () => {
  it('groups thousands with commas and Western digits', () => {
    expect(formatNumber(1234567)).toBe('1,234,567');
    expect(formatNumber(null)).toBe('');
  });
  it('writes shekels after the number, no decimals, with a no-break space', () => {
    const s = formatMoney(1200000);
    expect(stripBidi(s)).toBe('1,200,000\u00a0₪');
    expect(s).toMatch(/\u200f/); // RLM marks keep it right in an RTL line
    expect(stripBidi(formatMoney(1499.6))).toBe('1,500\u00a0₪');
  });
  it('keeps the minus sign of negative amounts before the digits', () => {
    expect(stripBidi(formatMoney(-500))).toBe('-500\u00a0₪');
  });
  it('shows budget ranges compactly, with one bound, or not at all', () => {
    expect(stripBidi(formatBudget(2800000, 3400000))).toBe('2.8M–3.4M ₪');
    expect(stripBidi(formatBudget(null, 6500))).toBe('≤ 6.5K ₪');
    expect(formatBudget(null, null)).toBe('');
  });
  it('shows rooms in halves', () => {
    expect(formatRooms(3.5, 4)).toBe('3.5–4');
    expect(formatRooms('4.0', '4.0')).toBe('4');
    expect(formatRooms(null, null)).toBe('');
  });
});

describe('dates and times in Asia/Jerusalem', () => {
  // 14:30 UTC in March is 16:30 in Israel (UTC+2); in July 21:30 UTC is
  // 00:30 the next day (UTC+3): the machine's own zone must not matter.
  it('formats a date as d.m.yyyy', () => {
    expect(formatDate('2026-03-05T14:30:00Z')).toBe('5.3.2026');
  });
  it('formats times on a 24-hour clock', () => {
    expect(formatTime('2026-03-05T14:30:00Z')).toBe('16:30');
    expect(formatDateTime('2026-07-05T21:30:00Z')).toBe('6.7.2026 00:30');
  });
  it('writes the long form in Hebrew', () => {
    expect(formatLong('2026-03-05T14:30:00Z')).toBe('יום חמישי, 5 במרץ 2026 בשעה 16:30');
  });
  it('says relative times in Hebrew', () => {
    const now = new Date('2026-03-05T12:00:00Z');
    expect(formatRelative('2026-03-05T11:55:00Z', now)).toBe('לפני 5 דקות');
    expect(formatRelative('2026-03-04T12:00:00Z', now)).toBe('אתמול');
    expect(formatRelative('2026-01-01T12:00:00Z', now)).toBe('1.1.2026');
  });
  it('returns "" for missing or invalid dates', () => {
    expect(formatDate(null)).toBe('');
    expect(formatTime('not a date')).toBe('');
  });
});

describe('durations, offsets and latency', () => {
  it('formats call durations as m:ss and h:mm:ss', () => {
    expect(formatDuration(0)).toBe('0:00');
    expect(formatDuration(134)).toBe('2:14');
    expect(formatDuration(3725)).toBe('1:02:05');
    expect(formatDuration(null)).toBe('');
  });
  it('formats offsets into the call as mm:ss', () => {
    expect(formatOffset(134000)).toBe('02:14');
    expect(formatOffset(-1)).toBe('');
  });
  it('formats latencies in ms or s', () => {
    expect(formatLatency(850)).toBe('850 ms');
    expect(formatLatency(1250)).toBe('1.25 s');
    expect(formatLatency(-1)).toBe('');
  });
});

describe('phone numbers', () => {
  it('shows Israeli E.164 numbers in local form', () => {
    expect(formatPhone('+972501234567')).toBe('050-123-4567');
    expect(formatPhone('+97235550100')).toBe('03-555-0100');
    expect(formatPhone('+14155550100')).toBe('+14155550100');
  });
  it('reads what people type into E.164', () => {
    expect(toE164('050-123-4567')).toBe('+972501234567');
    expect(toE164('+972 50 123 4567')).toBe('+972501234567');
    expect(toE164('972501234567')).toBe('+972501234567');
    expect(toE164('12')).toBeNull();
    expect(toE164('שלום')).toBeNull();
  });
});

describe('Hebrew plurals', () => {
  it('has one, two and other forms', () => {
    const forms = { one: 'ליד', two: 'שני לידים', other: 'לידים' };
    expect(pluralize(1, forms)).toBe('ליד');
    expect(pluralize(2, forms)).toBe('שני לידים');
    expect(pluralize(5, forms)).toBe('לידים');
  });
});
