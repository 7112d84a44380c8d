import { useState } from 'react';
import { Link } from 'react-router';
import { Alert, ErrorAlert } from '@/components/ui/Alert';
import { Button, ButtonLink } from '@/components/ui/Button';
import { Card } from '@/components/ui/Card';
import { EmptyState } from '@/components/ui/EmptyState';
import { ProgressBar } from '@/components/ui/ProgressBar';
import { SkeletonRows } from '@/components/ui/Skeleton';
import { addDays, browserTimeZone, dateInZone, startOfWeek, todayIn, zonedDateTimeToUtc } from '@/lib/dates';
import { useGetScheduleQuery, useListPlansInfiniteQuery } from '../api/plans';
import { progressOf } from '../schemas';
import { ScheduleList } from './ScheduleList';
import { useNow } from '@/lib/hooks';

export function Dashboard() {
  const [range] = useState(() => {
    const tz = browserTimeZone();
    const today = todayIn(tz);
    const weekEnd = addDays(startOfWeek(today), 7);
    return {
      tz,
      today,
      from: zonedDateTimeToUtc(addDays(today, -60), '00:00', tz).toISOString(),
      to: zonedDateTimeToUtc(weekEnd, '00:00', tz).toISOString(),
    };
  });
  const [message, setMessage] = useState<string | null>(null);
  const schedule = useGetScheduleQuery({ from: range.from, to: range.to });
  const plans = useListPlansInfiniteQuery({ status: 'active', sort: 'startDate', limit: 50 });
  const activePlans = plans.data?.pages[0]?.items ?? [];

  const now = useNow();
  const items = schedule.data ?? [];
  const overdue = items.filter((i) => !i.done && new Date(i.dueAt).getTime() < now && dateInZone(new Date(i.dueAt).getTime(), range.tz) < range.today);
  const today = items.filter((i) => dateInZone(new Date(i.dueAt).getTime(), range.tz) === range.today);
  const week = items.filter((i) => dateInZone(new Date(i.dueAt).getTime(), range.tz) > range.today);

  return (
    <div className="space-y-6">
      {message && (
        <Alert tone="error" action={<Button size="sm" variant="ghost" onClick={() => setMessage(null)}>Dismiss</Button>}>
          {message}
        </Alert>
      )}
      <div className="grid gap-6 lg:grid-cols-3">
        <div className="space-y-6 lg:col-span-2">
          {schedule.isLoading ? (
            <Card>
              <SkeletonRows count={4} label="Loading schedule" />
            </Card>
          ) : schedule.error ? (
            <ErrorAlert error={schedule.error} onRetry={() => void schedule.refetch()} />
          ) : (
            <>
              {overdue.length > 0 && (
                <Card className="border-red-300 dark:border-red-900">
                  <h2 className="mb-2 flex items-center gap-2 text-lg font-semibold text-red-800 dark:text-red-300">
                    Overdue <span className="rounded-full bg-red-100 px-2 text-sm dark:bg-red-950">{overdue.length}</span>
                  </h2>
                  <ScheduleList items={overdue} tz={range.tz} showDate onError={setMessage} testId="overdue-items" />
                </Card>
              )}
              <Card>
                <h2 className="mb-2 text-lg font-semibold">Today</h2>
                {today.length === 0 ? (
                  <p className="py-4 text-sm text-slate-600 dark:text-slate-400">Nothing due today.</p>
                ) : (
                  <ScheduleList items={today} tz={range.tz} onError={setMessage} testId="today-items" />
                )}
              </Card>
              <Card>
                <h2 className="mb-2 text-lg font-semibold">Later this week</h2>
                {week.length === 0 ? (
                  <p className="py-4 text-sm text-slate-600 dark:text-slate-400">Nothing else scheduled this week.</p>
                ) : (
                  <ScheduleList items={week} tz={range.tz} showDate onError={setMessage} testId="week-items" />
                )}
              </Card>
            </>
          )}
        </div>
        <Card className="h-fit">
          <div className="mb-3 flex items-center justify-between">
            <h2 className="text-lg font-semibold">Active plans</h2>
            <Link to="/plans?status=active" className="text-sm text-indigo-700 underline-offset-2 hover:underline dark:text-indigo-300">
              All
            </Link>
          </div>
          {plans.isLoading ? (
            <SkeletonRows count={3} label="Loading plans" />
          ) : plans.error ? (
            <ErrorAlert error={plans.error} onRetry={() => void plans.refetch()} />
          ) : activePlans.length === 0 ? (
            <EmptyState title="No active plans" action={<ButtonLink to="/templates">Browse templates</ButtonLink>} />
          ) : (
            <ul className="space-y-4" data-testid="active-plans">
              {activePlans.map((p) => {
                const { done, total } = progressOf(p);
                return (
                  <li key={p.id}>
                    <Link to={`/plans/${p.id}`} className="mb-1 block truncate text-sm font-medium hover:text-indigo-700 dark:hover:text-indigo-300">
                      {p.title}
                    </Link>
                    <ProgressBar value={done} max={total} label={`Progress of ${p.title}`} />
                  </li>
                );
              })}
            </ul>
          )}
        </Card>
      </div>
    </div>
  );
}
