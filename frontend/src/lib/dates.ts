/**
 * Calendar-date and time-zone helpers built on Intl (no date library).
 * A "date" is a 'YYYY-MM-DD' string; an "instant" is epoch milliseconds / RFC 3339 UTC.
 */

const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/;
const TIME_RE = /^([01]\d|2[0-3]):([0-5]\d)$/;
export const DEFAULT_TIME_OF_DAY = '09:00';

export function isDateString(value: string): boolean {
  const m = DATE_RE.exec(value);
  if (!m) return false;
  const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  return d.toISOString().slice(0, 10) === value;
}

export function isTimeString(value: string): boolean {
  return TIME_RE.test(value);
}

export function browserTimeZone(): string {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
  } catch {
    return 'UTC';
  }
}

export function isValidTimeZone(tz: string): boolean {
  if (!tz) return false;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

export function timeZones(): string[] {
  try {
    return Intl.supportedValuesOf('timeZone');
  } catch {
    return ['UTC'];
  }
}

const partsFormatters = new Map<string, Intl.DateTimeFormat>();
function partsFormatter(tz: string): Intl.DateTimeFormat {
  let f = partsFormatters.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: tz,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    partsFormatters.set(tz, f);
  }
  return f;
}

interface WallClock {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

export function wallClock(epochMs: number, tz: string): WallClock {
  const parts: Record<string, number> = {};
  for (const p of partsFormatter(tz).formatToParts(new Date(epochMs))) {
    if (p.type !== 'literal') parts[p.type] = Number(p.value);
  }
  return {
    year: parts.year ?? 1970,
    month: parts.month ?? 1,
    day: parts.day ?? 1,
    hour: (parts.hour ?? 0) % 24,
    minute: parts.minute ?? 0,
    second: parts.second ?? 0,
  };
}

/** Offset of `tz` from UTC at the given instant, in ms (Berlin summer: +7_200_000). */
export function timeZoneOffsetMs(epochMs: number, tz: string): number {
  const w = wallClock(epochMs, tz);
  const asUtc = Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second);
  return asUtc - Math.floor(epochMs / 1000) * 1000;
}

/**
 * The instant at which the wall clock in `tz` shows `date` `time`.
 * Times skipped by a DST gap move forward by the gap; repeated times take the earlier instant.
 */
export function zonedDateTimeToUtc(date: string, time: string, tz: string): Date {
  const [y, mo, d] = date.split('-').map(Number) as [number, number, number];
  const [h, mi] = time.split(':').map(Number) as [number, number];
  const local = Date.UTC(y, mo - 1, d, h, mi);
  const before = timeZoneOffsetMs(local - 86_400_000, tz);
  const after = timeZoneOffsetMs(local + 86_400_000, tz);
  const candidates = [local - before, local - after].filter(
    (t) => t + timeZoneOffsetMs(t, tz) === local,
  );
  if (candidates.length > 0) return new Date(Math.min(...candidates));
  // Gap (spring forward): keep the same distance from midnight using the pre-transition offset.
  return new Date(local - before);
}

export function addDays(date: string, days: number): string {
  const [y, m, d] = date.split('-').map(Number) as [number, number, number];
  return new Date(Date.UTC(y, m - 1, d + days)).toISOString().slice(0, 10);
}

export interface StepTiming {
  offsetDays: number;
  timeOfDay: string | null;
}

/** Due instants of template steps for a plan starting on `startDate` in `tz`. */
export function previewDueDates(startDate: string, tz: string, steps: StepTiming[]): Date[] {
  return steps.map((s) => zonedDateTimeToUtc(addDays(startDate, s.offsetDays), s.timeOfDay ?? DEFAULT_TIME_OF_DAY, tz));
}

/** The calendar date in `tz` of an instant. */
export function dateInZone(epochMs: number, tz: string): string {
  const w = wallClock(epochMs, tz);
  return `${String(w.year).padStart(4, '0')}-${String(w.month).padStart(2, '0')}-${String(w.day).padStart(2, '0')}`;
}

export function todayIn(tz: string = browserTimeZone(), now = Date.now()): string {
  return dateInZone(now, tz);
}

/** Monday of the week containing `date`. */
export function startOfWeek(date: string): string {
  const [y, m, d] = date.split('-').map(Number) as [number, number, number];
  const dow = new Date(Date.UTC(y, m - 1, d)).getUTCDay(); // 0 = Sunday
  return addDays(date, -((dow + 6) % 7));
}

export function startOfMonth(date: string): string {
  return `${date.slice(0, 7)}-01`;
}

export function addMonths(date: string, months: number): string {
  const [y, m] = date.split('-').map(Number) as [number, number];
  return new Date(Date.UTC(y, m - 1 + months, 1)).toISOString().slice(0, 10);
}

export function daysInMonth(date: string): number {
  const [y, m] = date.split('-').map(Number) as [number, number];
  return new Date(Date.UTC(y, m, 0)).getUTCDate();
}

/** 6×7 (or 5×7) grid of dates covering the month of `date`, weeks starting Monday. */
export function monthGrid(date: string): string[] {
  const first = startOfMonth(date);
  const gridStart = startOfWeek(first);
  const last = addDays(first, daysInMonth(date) - 1);
  const out: string[] = [];
  for (let d = gridStart; out.length < 42; d = addDays(d, 1)) {
    out.push(d);
    if (out.length % 7 === 0 && d >= last) break;
  }
  return out;
}

const dateFmt = new Intl.DateTimeFormat(undefined, { weekday: 'short', day: 'numeric', month: 'short', year: 'numeric', timeZone: 'UTC' });
/** 'Fri, 27 Mar 2026' for a 'YYYY-MM-DD'. */
export function formatDate(date: string): string {
  if (!isDateString(date)) return date;
  return dateFmt.format(new Date(`${date}T00:00:00Z`));
}

export function formatDateTime(iso: string | number | Date, tz?: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return new Intl.DateTimeFormat(undefined, {
    weekday: 'short',
    day: 'numeric',
    month: 'short',
    year: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    timeZone: tz,
  }).format(d);
}

export function formatTime(iso: string | number | Date, tz?: string): string {
  return new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', timeZone: tz }).format(new Date(iso));
}

export function formatOffset(days: number): string {
  if (days === 0) return 'Start day';
  const abs = Math.abs(days);
  return `Day ${days > 0 ? '+' : '−'}${abs}`;
}

export function relativeTime(iso: string, now = Date.now()): string {
  const diff = new Date(iso).getTime() - now;
  const rtf = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });
  const abs = Math.abs(diff);
  if (abs < 60_000) return rtf.format(Math.round(diff / 1000), 'second');
  if (abs < 3_600_000) return rtf.format(Math.round(diff / 60_000), 'minute');
  if (abs < 86_400_000) return rtf.format(Math.round(diff / 3_600_000), 'hour');
  return rtf.format(Math.round(diff / 86_400_000), 'day');
}

const pad2 = (n: number) => String(n).padStart(2, '0');

/** RFC 3339 instant → 'YYYY-MM-DDTHH:MM' wall clock in `tz` (for datetime-local inputs). */
export function utcToLocalInput(iso: string, tz: string): string {
  const w = wallClock(new Date(iso).getTime(), tz);
  return `${w.year}-${pad2(w.month)}-${pad2(w.day)}T${pad2(w.hour)}:${pad2(w.minute)}`;
}

/** 'YYYY-MM-DDTHH:MM' wall clock in `tz` → RFC 3339 UTC instant (null if invalid). */
export function localInputToUtc(local: string, tz: string): string | null {
  const m = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2})/.exec(local);
  if (!m || !isValidTimeZone(tz) || !isDateString(m[1] as string)) return null;
  return zonedDateTimeToUtc(m[1] as string, m[2] as string, tz).toISOString();
}
