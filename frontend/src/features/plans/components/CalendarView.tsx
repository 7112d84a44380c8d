import { useState } from 'react';
import { Link, useSearchParams } from 'react-router';
import { Alert, ErrorAlert } from '@/components/ui/Alert';
import { Button } from '@/components/ui/Button';
import { SkeletonRows } from '@/components/ui/Skeleton';
import { cn } from '@/components/ui/cn';
import {
  addDays,
  addMonths,
  browserTimeZone,
  dateInZone,
  formatDate,
  formatTime,
  isDateString,
  monthGrid,
  startOfMonth,
  startOfWeek,
  todayIn,
  zonedDateTimeToUtc,
} from '@/lib/dates';
import { useGetScheduleQuery } from '../api/plans';
import type { ScheduleItem } from '../schemas';
import { ScheduleList } from './ScheduleList';

const WEEKDAYS = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'];
const monthTitle = (date: string) => new Intl.DateTimeFormat(undefined, { month: 'long', year: 'numeric', timeZone: 'UTC' }).format(new Date(`${date}T00:00:00Z`));

export function CalendarView() {
  const [params, setParams] = useSearchParams();
  const [tz] = useState(browserTimeZone);
  const [message, setMessage] = useState<string | null>(null);
  const today = todayIn(tz);
  const view = params.get('view') === 'month' ? 'month' : 'week';
  const rawDate = params.get('date') ?? '';
  const anchor = isDateString(rawDate) ? rawDate : today;

  const days = view === 'week' ? Array.from({ length: 7 }, (_, i) => addDays(startOfWeek(anchor), i)) : monthGrid(anchor);
  const first = days[0] as string;
  const last = days[days.length - 1] as string;
  const schedule = useGetScheduleQuery({
    from: zonedDateTimeToUtc(first, '00:00', tz).toISOString(),
    to: zonedDateTimeToUtc(addDays(last, 1), '00:00', tz).toISOString(),
  });

  const byDay = new Map<string, ScheduleItem[]>();
  for (const it of schedule.data ?? []) {
    const d = dateInZone(new Date(it.dueAt).getTime(), tz);
    byDay.set(d, [...(byDay.get(d) ?? []), it]);
  }

  function go(next: { view?: string; date?: string }) {
    const p = new URLSearchParams(params);
    if (next.view) p.set('view', next.view);
    if (next.date) p.set('date', next.date);
    setParams(p, { replace: true });
  }
  const step = (dir: number) => go({ date: view === 'week' ? addDays(anchor, 7 * dir) : addMonths(anchor, dir) });
  const title = view === 'week' ? `${formatDate(first)} – ${formatDate(last)}` : monthTitle(startOfMonth(anchor));

  return (
    <div className="space-y-4">
      <div className="flex flex-wrap items-center gap-2">
        <div role="group" aria-label="Calendar view" className="inline-flex rounded-lg border border-slate-300 p-0.5 dark:border-slate-600">
          {(['week', 'month'] as const).map((v) => (
            <button
              key={v}
              type="button"
              aria-pressed={view === v}
              onClick={() => go({ view: v })}
              className={cn('rounded-md px-3 py-1 text-sm capitalize', view === v ? 'bg-indigo-600 text-white dark:bg-indigo-400 dark:text-slate-950' : 'hover:bg-slate-100 dark:hover:bg-slate-800')}
            >
              {v}
            </button>
          ))}
        </div>
        <div className="flex gap-1">
          <Button size="sm" variant="secondary" onClick={() => step(-1)} aria-label={`Previous ${view}`}>
            ←
          </Button>
          <Button size="sm" variant="secondary" onClick={() => go({ date: today })}>
            Today
          </Button>
          <Button size="sm" variant="secondary" onClick={() => step(1)} aria-label={`Next ${view}`}>
            →
          </Button>
        </div>
        <h2 className="text-lg font-semibold" aria-live="polite">
          {title}
        </h2>
      </div>
      {message && <Alert tone="error">{message}</Alert>}
      {schedule.error && <ErrorAlert error={schedule.error} onRetry={() => void schedule.refetch()} />}
      {schedule.isLoading ? (
        <SkeletonRows count={6} label="Loading calendar" />
      ) : view === 'week' ? (
        <ol className="grid gap-3 md:grid-cols-7" data-testid="calendar-week">
          {days.map((d) => {
            const items = byDay.get(d) ?? [];
            return (
              <li key={d} className={cn('min-h-28 rounded-xl border bg-white p-3 dark:bg-slate-900', d === today ? 'border-indigo-500' : 'border-slate-200 dark:border-slate-800')}>
                <h3 className={cn('mb-1 text-sm font-semibold', d === today && 'text-indigo-700 dark:text-indigo-300')}>
                  {formatDate(d).replace(/,? \d{4}$/, '')}
                  {d === today && <span className="sr-only"> (today)</span>}
                </h3>
                {items.length === 0 ? <p className="text-xs text-slate-500 dark:text-slate-400">—</p> : <ScheduleList items={items} tz={tz} onError={setMessage} />}
              </li>
            );
          })}
        </ol>
      ) : (
        <div data-testid="calendar-month">
          <div className="grid grid-cols-7 gap-1 text-center text-xs font-semibold text-slate-600 dark:text-slate-400" aria-hidden="true">
            {WEEKDAYS.map((w) => (
              <div key={w}>{w}</div>
            ))}
          </div>
          <ol className="mt-1 grid grid-cols-7 gap-1">
            {days.map((d) => {
              const items = byDay.get(d) ?? [];
              const inMonth = d.slice(0, 7) === anchor.slice(0, 7);
              const open = items.filter((i) => !i.done).length;
              return (
                <li
                  key={d}
                  aria-label={`${formatDate(d)}: ${items.length} item${items.length === 1 ? '' : 's'}`}
                  className={cn(
                    'min-h-16 overflow-hidden rounded-lg border p-1 sm:min-h-24 sm:p-1.5',
                    inMonth ? 'bg-white dark:bg-slate-900' : 'bg-slate-100 text-slate-600 dark:bg-slate-950 dark:text-slate-400',
                    d === today ? 'border-indigo-500' : 'border-slate-200 dark:border-slate-800',
                  )}
                >
                  <button type="button" onClick={() => go({ view: 'week', date: d })} className="text-xs font-semibold hover:underline" aria-label={`Show week of ${formatDate(d)}`}>
                    {Number(d.slice(8))}
                  </button>
                  {items.length > 0 && (
                    <>
                      <span className="ml-1 inline-block rounded-full bg-indigo-100 px-1.5 text-[10px] font-semibold text-indigo-800 sm:hidden dark:bg-indigo-950 dark:text-indigo-200">{items.length}</span>
                      <ul className="mt-1 hidden space-y-0.5 sm:block">
                        {items.slice(0, 3).map((it) => (
                          <li key={`${it.planId}-${it.itemId}`} className="truncate text-[11px]">
                            <Link to={`/plans/${it.planId}`} className={cn('hover:underline', it.done && 'line-through opacity-70')} title={`${it.title} — ${it.planTitle}`}>
                              {formatTime(it.dueAt, tz)} {it.title}
                            </Link>
                          </li>
                        ))}
                        {items.length > 3 && <li className="text-[11px] text-slate-600 dark:text-slate-400">+{items.length - 3} more</li>}
                      </ul>
                      <span className="sr-only">{open} open</span>
                    </>
                  )}
                </li>
              );
            })}
          </ol>
        </div>
      )}
    </div>
  );
}
