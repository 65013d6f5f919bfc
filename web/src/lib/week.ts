// Calendar dates in Asia/Jerusalem for the appointments calendar: a week
// runs Sunday to Saturday (the Israeli week), days are "YYYY-MM-DD"
// strings (no Date arithmetic in the browser's own time zone), and a date
// plus a time becomes an ISO time with Jerusalem's offset for the API.
const TIME_ZONE = 'Asia/Jerusalem';
const ymd = new Intl.DateTimeFormat('en-CA', { timeZone: TIME_ZONE, year: 'numeric', month: '2-digit', day: '2-digit' });
const hm = new Intl.DateTimeFormat('en-GB', { timeZone: TIME_ZONE, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });

/** The calendar date of an instant in Jerusalem. */
export function jerusalemDate(d: Date): string {
  return ymd.format(d);
}

/** "HH:MM" of an instant in Jerusalem. */
export function jerusalemTime(d: Date): string {
  return hm.format(d);
}

function parse(date: string): Date {
  return new Date(`${date}T12:00:00Z`);
}

export function addDays(date: string, n: number): string {
  const d = parse(date);
  d.setUTCDate(d.getUTCDate() + n);
  return d.toISOString().slice(0, 10);
}

/** 0 = Sunday … 6 = Saturday. */
export function weekday(date: string): number {
  return parse(date).getUTCDay();
}

/** The Sunday that starts the week of a date. */
export function weekStart(date: string): string {
  return addDays(date, -weekday(date));
}

/** The seven dates of the week starting on a Sunday. */
export function weekDates(start: string): string[] {
  return Array.from({ length: 7 }, (_, i) => addDays(start, i));
}

/** Jerusalem's UTC offset ("+02:00" or "+03:00") on a date. */
export function jerusalemOffset(date: string): string {
  const f = new Intl.DateTimeFormat('en-US', { timeZone: TIME_ZONE, timeZoneName: 'longOffset' });
  const part = f.formatToParts(parse(date)).find((p) => p.type === 'timeZoneName')?.value ?? 'GMT+02:00';
  const m = /GMT([+-]\d{2}:\d{2})/.exec(part);
  return m?.[1] ?? '+02:00';
}

/** "2026-03-05" + "16:30" → "2026-03-05T16:30:00+02:00". */
export function toIsoLocal(date: string, time: string): string {
  return `${date}T${time}:00${jerusalemOffset(date)}`;
}
