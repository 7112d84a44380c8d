import { Link } from 'react-router';
import { cn } from '@/components/ui/cn';
import { formatDateTime, formatTime } from '@/lib/dates';
import { errorMessage } from '@/lib/problem';
import { useSetItemDoneMutation } from '../api/plans';
import type { ScheduleItem } from '../schemas';
import { useNow } from '@/lib/hooks';

export function ScheduleList({
  items,
  tz,
  showDate,
  onError,
  testId,
}: {
  items: ScheduleItem[];
  tz: string;
  showDate?: boolean;
  onError: (message: string) => void;
  testId?: string;
}) {
  const [setDone, state] = useSetItemDoneMutation();
  const now = useNow();
  return (
    <ul className="divide-y divide-slate-200 dark:divide-slate-800" data-testid={testId}>
      {items.map((it) => {
        const overdue = !it.done && new Date(it.dueAt).getTime() < now;
        const id = `sched-${it.planId}-${it.itemId}`;
        return (
          <li key={id} className={cn('flex items-start gap-3 py-2.5', overdue && '-mx-2 rounded-lg bg-red-50 px-2 dark:bg-red-950/50')}>
            <input
              id={id}
              type="checkbox"
              className="mt-1 size-4 shrink-0 accent-emerald-600"
              checked={it.done}
              disabled={state.isLoading && state.originalArgs?.itemId === it.itemId}
              onChange={(e) => {
                setDone({ planId: it.planId, itemId: it.itemId, done: e.target.checked })
                  .unwrap()
                  .catch((err: unknown) => onError(`Couldn't update “${it.title}”: ${errorMessage(err)}`));
              }}
            />
            <div className="min-w-0 flex-1">
              <label htmlFor={id} className={cn('block cursor-pointer text-sm font-medium break-words', it.done && 'text-slate-500 line-through dark:text-slate-400')}>
                {it.title}
              </label>
              <p className="text-xs text-slate-600 dark:text-slate-400">
                <time dateTime={it.dueAt}>{showDate ? formatDateTime(it.dueAt, tz) : formatTime(it.dueAt, tz)}</time>
                {' · '}
                <Link to={`/plans/${it.planId}`} className="underline decoration-slate-400 underline-offset-2 hover:text-indigo-700 dark:hover:text-indigo-300">
                  {it.planTitle}
                </Link>
                {overdue && <span className="ml-2 font-semibold text-red-700 dark:text-red-400">Overdue</span>}
              </p>
            </div>
          </li>
        );
      })}
    </ul>
  );
}
