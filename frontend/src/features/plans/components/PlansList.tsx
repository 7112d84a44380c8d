import { useEffect, useState } from 'react';
import { Link, useSearchParams } from 'react-router';
import { ErrorAlert } from '@/components/ui/Alert';
import { Badge } from '@/components/ui/Badge';
import { Button, ButtonLink } from '@/components/ui/Button';
import { EmptyState } from '@/components/ui/EmptyState';
import { SelectField, TextField } from '@/components/ui/Field';
import { ProgressBar } from '@/components/ui/ProgressBar';
import { SkeletonRows } from '@/components/ui/Skeleton';
import { cn } from '@/components/ui/cn';
import { formatDate } from '@/lib/dates';
import { useDebouncedValue } from '@/lib/hooks';
import { useListPlansInfiniteQuery } from '../api/plans';
import { STATUSES, progressOf, type PlanListArgs, type PlanStatus } from '../schemas';
import { PriorityBadge, StatusBadge } from './PlanBadges';

const SORTS = [
  { value: '-updatedAt', label: 'Recently updated' },
  { value: 'startDate', label: 'Start date (soonest)' },
  { value: '-startDate', label: 'Start date (latest)' },
  { value: 'title', label: 'Title A–Z' },
  { value: '-createdAt', label: 'Newest' },
];

export function PlansList() {
  const [params, setParams] = useSearchParams();
  const [search, setSearch] = useState(params.get('q') ?? '');
  const debounced = useDebouncedValue(search, 300);

  function setParam(key: string, value: string) {
    setParams(
      (prev) => {
        const next = new URLSearchParams(prev);
        if (value) next.set(key, value);
        else next.delete(key);
        return next;
      },
      { replace: true },
    );
  }

  useEffect(() => {
    if (debounced !== (params.get('q') ?? '')) setParam('q', debounced.trim());
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [debounced]);

  const args: PlanListArgs = {
    q: params.get('q') || undefined,
    status: (params.get('status') as PlanStatus | null) || undefined,
    tag: params.get('tag') || undefined,
    from: params.get('from') || undefined,
    to: params.get('to') || undefined,
    sort: params.get('sort') || '-updatedAt',
  };
  const list = useListPlansInfiniteQuery(args);
  const plans = list.data?.pages.flatMap((p) => p.items) ?? [];
  const filtered = !!(args.q || args.status || args.tag || args.from || args.to);

  return (
    <div className="space-y-6">
      <div className="grid grid-cols-2 gap-3 lg:grid-cols-6">
        <TextField containerClassName="col-span-2" label="Search plans" type="search" value={search} onChange={(e) => setSearch(e.target.value)} placeholder="Title or description" />
        <SelectField label="Status" value={args.status ?? ''} onChange={(e) => setParam('status', e.target.value)}>
          <option value="">Any</option>
          {STATUSES.map((s) => (
            <option key={s} value={s}>
              {s[0]?.toUpperCase() + s.slice(1)}
            </option>
          ))}
        </SelectField>
        <TextField label="Tag" value={params.get('tag') ?? ''} onChange={(e) => setParam('tag', e.target.value.trim())} />
        <TextField label="From" type="date" value={args.from ?? ''} onChange={(e) => setParam('from', e.target.value)} />
        <TextField label="To" type="date" value={args.to ?? ''} onChange={(e) => setParam('to', e.target.value)} />
        <SelectField containerClassName="col-span-2" label="Sort" value={args.sort} onChange={(e) => setParam('sort', e.target.value === '-updatedAt' ? '' : e.target.value)}>
          {SORTS.map((s) => (
            <option key={s.value} value={s.value}>
              {s.label}
            </option>
          ))}
        </SelectField>
      </div>

      {list.isLoading ? (
        <SkeletonRows count={5} label="Loading plans" />
      ) : list.isError && plans.length === 0 ? (
        <ErrorAlert error={list.error} onRetry={() => void list.refetch()} />
      ) : plans.length === 0 ? (
        <EmptyState
          title={filtered ? 'No plans match these filters' : 'No plans yet'}
          action={
            filtered ? (
              <Button variant="secondary" onClick={() => { setSearch(''); setParams({}, { replace: true }); }}>
                Clear filters
              </Button>
            ) : (
              <div className="flex flex-wrap justify-center gap-2">
                <ButtonLink to="/templates">Start from a template</ButtonLink>
                <ButtonLink to="/plans/new" variant="secondary">
                  Blank plan
                </ButtonLink>
              </div>
            )
          }
        >
          {filtered ? 'Try widening the date range or clearing the search.' : 'Create a plan from a template to get dated checklists.'}
        </EmptyState>
      ) : (
        <>
          <ul className={cn('space-y-3', list.isFetching && !list.isFetchingNextPage && 'opacity-70')} data-testid="plan-list" aria-busy={list.isFetching}>
            {plans.map((p) => {
              const { done, total } = progressOf(p);
              return (
                <li key={p.id} className="relative rounded-xl border border-slate-200 bg-white p-4 transition hover:border-indigo-400 dark:border-slate-800 dark:bg-slate-900 dark:hover:border-indigo-500">
                  <div className="flex flex-wrap items-center gap-2">
                    <h2 className="min-w-0 flex-1 font-semibold break-words">
                      <Link to={`/plans/${p.id}`} className="after:absolute after:inset-0 focus-visible:outline-none">
                        {p.title}
                      </Link>
                    </h2>
                    <StatusBadge status={p.status} />
                    <PriorityBadge priority={p.priority} />
                  </div>
                  <p className="mt-1 text-xs text-slate-600 dark:text-slate-400">
                    {formatDate(p.startDate)}
                    {p.endDate ? ` – ${formatDate(p.endDate)}` : ''}
                    {p.tags.length > 0 && ' · '}
                    {p.tags.map((t) => (
                      <Badge key={t} className="mr-1">
                        #{t}
                      </Badge>
                    ))}
                  </p>
                  <div className="mt-3">
                    <ProgressBar value={done} max={total} label={`Progress of ${p.title}`} />
                  </div>
                </li>
              );
            })}
          </ul>
          {list.isError && <ErrorAlert error={list.error} />}
          {list.hasNextPage && (
            <div className="flex justify-center">
              <Button variant="secondary" loading={list.isFetchingNextPage} onClick={() => void list.fetchNextPage()} data-testid="load-more">
                Load more
              </Button>
            </div>
          )}
        </>
      )}
    </div>
  );
}
