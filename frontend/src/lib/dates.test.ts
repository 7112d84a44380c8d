import { describe, expect, it } from 'vitest';
import {
  addDays,
  dateInZone,
  localInputToUtc,
  monthGrid,
  previewDueDates,
  startOfWeek,
  timeZoneOffsetMs,
  utcToLocalInput,
  zonedDateTimeToUtc,
} from './dates';

describe('date preview arithmetic', () => {
  it('handles the Europe/Berlin spring-forward weekend (2026-03-29)', () => {
    const dues = previewDueDates('2026-03-27', 'Europe/Berlin', [
      { offsetDays: 0, timeOfDay: '09:00' },
      { offsetDays: 1, timeOfDay: '09:00' },
      { offsetDays: 2, timeOfDay: '09:00' },
    ]);
    expect(dues.map((d) => d.toISOString())).toEqual(['2026-03-27T08:00:00.000Z', '2026-03-28T08:00:00.000Z', '2026-03-29T07:00:00.000Z']);
  });

  it('defaults the time of day to 09:00 and supports negative offsets', () => {
    const [before, same] = previewDueDates('2026-01-10', 'America/New_York', [
      { offsetDays: -3, timeOfDay: null },
      { offsetDays: 0, timeOfDay: '23:30' },
    ]);
    expect(before?.toISOString()).toBe('2026-01-07T14:00:00.000Z');
    expect(same?.toISOString()).toBe('2026-01-11T04:30:00.000Z');
  });

  it('handles the autumn fall-back (repeated hour takes the earlier instant)', () => {
    // 2026-10-25 02:30 happens twice in Berlin; the first is 00:30Z (CEST).
    expect(zonedDateTimeToUtc('2026-10-25', '02:30', 'Europe/Berlin').toISOString()).toBe('2026-10-25T00:30:00.000Z');
    expect(zonedDateTimeToUtc('2026-10-26', '09:00', 'Europe/Berlin').toISOString()).toBe('2026-10-26T08:00:00.000Z');
  });

  it('moves a time inside the spring-forward gap forward', () => {
    // 02:30 does not exist on 2026-03-29 in Berlin → 03:30 CEST = 01:30Z.
    expect(zonedDateTimeToUtc('2026-03-29', '02:30', 'Europe/Berlin').toISOString()).toBe('2026-03-29T01:30:00.000Z');
  });

  it('works across month/year boundaries and in UTC+ zones', () => {
    expect(addDays('2026-12-31', 1)).toBe('2027-01-01');
    expect(addDays('2028-03-01', -1)).toBe('2028-02-29');
    expect(zonedDateTimeToUtc('2026-06-01', '09:00', 'Asia/Kolkata').toISOString()).toBe('2026-06-01T03:30:00.000Z');
    expect(timeZoneOffsetMs(Date.UTC(2026, 6, 1), 'Europe/Berlin')).toBe(7_200_000);
  });

  it('converts between instants and wall-clock inputs', () => {
    expect(dateInZone(Date.parse('2026-03-28T23:30:00Z'), 'Europe/Berlin')).toBe('2026-03-29');
    expect(utcToLocalInput('2026-03-29T07:00:00Z', 'Europe/Berlin')).toBe('2026-03-29T09:00');
    expect(localInputToUtc('2026-03-29T09:00', 'Europe/Berlin')).toBe('2026-03-29T07:00:00.000Z');
    expect(localInputToUtc('nope', 'Europe/Berlin')).toBeNull();
  });

  it('builds weeks starting on Monday and month grids', () => {
    expect(startOfWeek('2026-03-29')).toBe('2026-03-23');
    expect(startOfWeek('2026-03-23')).toBe('2026-03-23');
    const grid = monthGrid('2026-03-15');
    expect(grid[0]).toBe('2026-02-23');
    expect(grid.length % 7).toBe(0);
    expect(grid).toContain('2026-03-31');
  });
});
