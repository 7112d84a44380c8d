import { useEffect, useState } from 'react';
import { useSearchParams } from 'react-router';
import { ErrorAlert } from '@/components/ui/Alert';
import { Button, ButtonLink } from '@/components/ui/Button';
import { EmptyState } from '@/components/ui/EmptyState';
import { SelectField, TextField } from '@/components/ui/Field';
import { SkeletonCards } from '@/components/ui/Skeleton';
import { cn } from '@/components/ui/cn';
import { useDebouncedValue } from '@/lib/hooks';
import { useCategoriesQuery, useListTemplatesInfiniteQuery } from '../api/templates';
import { SORTS, type TemplateListArgs } from '../schemas';
import { TemplateCard } from './TemplateCard';

export function TemplateGallery() {
  const [params, setParams] = useSearchParams();
  const q = params.get('q') ?? '';
  const [search, setSearch] = useState(q);
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

  // Debounced search → URL.
  useEffect(() => {
    if (debounced !== (params.get('q') ?? '')) setParam('q', debounced.trim());
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [debounced]);

  const args: TemplateListArgs = {
    q: q || undefined,
    category: params.get('category') || undefined,
    tag: params.get('tag') || undefined,
    visibility: (params.get('visibility') as TemplateListArgs['visibility']) || undefined,
    owner: params.get('owner') === 'me' ? 'me' : undefined,
    sort: params.get('sort') || '-updatedAt',
  };
  const list = useListTemplatesInfiniteQuery(args);
  const categories = useCategoriesQuery();
  const items = list.data?.pages.flatMap((p) => p.items) ?? [];
  const filtered = !!(args.q || args.category || args.tag || args.visibility || args.owner);

  return (
    <div className="space-y-6">
      <div className="grid grid-cols-2 gap-3 lg:grid-cols-4">
        <TextField
          containerClassName="col-span-2"
          label="Search templates"
          type="search"
          placeholder="Search by name or description"
          value={search}
          onChange={(e) => setSearch(e.target.value)}
          data-testid="template-search"
        />
        <TextField label="Tag" placeholder="e.g. travel" value={params.get('tag') ?? ''} onChange={(e) => setParam('tag', e.target.value.trim())} />
        <SelectField label="Sort" value={args.sort} onChange={(e) => setParam('sort', e.target.value === '-updatedAt' ? '' : e.target.value)}>
          {SORTS.map((s) => (
            <option key={s.value} value={s.value}>
              {s.label}
            </option>
          ))}
        </SelectField>
        <SelectField label="Visibility" value={args.visibility ?? ''} onChange={(e) => setParam('visibility', e.target.value)}>
          <option value="">Any</option>
          <option value="public">Public</option>
          <option value="private">Private</option>
        </SelectField>
        <SelectField label="Owner" value={args.owner ?? ''} onChange={(e) => setParam('owner', e.target.value)}>
          <option value="">Everyone</option>
          <option value="me">Mine</option>
        </SelectField>
      </div>

      <nav aria-label="Categories" className="-mx-1 flex flex-wrap gap-2">
        {categories.isLoading && <span className="text-sm text-slate-600 dark:text-slate-400">Loading categories…</span>}
        {categories.data && (
          <>
            <CategoryChip active={!args.category} onClick={() => setParam('category', '')}>
              All
            </CategoryChip>
            {categories.data.map((c) => (
              <CategoryChip key={c.name} active={args.category === c.name} onClick={() => setParam('category', args.category === c.name ? '' : c.name)}>
                {c.name} <span className="opacity-70">{c.count}</span>
              </CategoryChip>
            ))}
          </>
        )}
      </nav>

      {list.isLoading ? (
        <SkeletonCards label="Loading templates" />
      ) : list.isError && items.length === 0 ? (
        <ErrorAlert error={list.error} onRetry={() => void list.refetch()} />
      ) : items.length === 0 ? (
        <EmptyState
          title={filtered ? 'No templates match' : 'No templates yet'}
          action={
            filtered ? (
              <Button variant="secondary" onClick={() => { setSearch(''); setParams({}, { replace: true }); }}>
                Clear filters
              </Button>
            ) : (
              <ButtonLink to="/templates/new">Create your first template</ButtonLink>
            )
          }
        >
          {filtered ? 'Try a different search or category.' : 'Templates are reusable checklists of steps with day offsets.'}
        </EmptyState>
      ) : (
        <>
          <ul className={cn('grid gap-4 sm:grid-cols-2 lg:grid-cols-3', list.isFetching && !list.isFetchingNextPage && 'opacity-70')} data-testid="template-list" aria-busy={list.isFetching}>
            {items.map((t) => (
              <TemplateCard key={t.id} template={t} />
            ))}
          </ul>
          {list.isError && <ErrorAlert error={list.error} />}
          {list.hasNextPage && (
            <div className="flex justify-center">
              <Button variant="secondary" loading={list.isFetchingNextPage} onClick={() => void list.fetchNextPage()}>
                Load more
              </Button>
            </div>
          )}
        </>
      )}
    </div>
  );
}

function CategoryChip({ active, onClick, children }: { active: boolean; onClick: () => void; children: React.ReactNode }) {
  return (
    <button
      type="button"
      aria-pressed={active}
      onClick={onClick}
      className={cn(
        'rounded-full border px-3 py-1 text-sm transition-colors',
        active
          ? 'border-indigo-600 bg-indigo-600 text-white dark:border-indigo-400 dark:bg-indigo-400 dark:text-slate-950'
          : 'border-slate-300 bg-white text-slate-700 hover:bg-slate-100 dark:border-slate-600 dark:bg-slate-900 dark:text-slate-200 dark:hover:bg-slate-800',
      )}
    >
      {children}
    </button>
  );
}
