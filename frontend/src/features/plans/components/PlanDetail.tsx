import { useState } from 'react';
import { useNavigate } from 'react-router';
import { Alert, ErrorAlert } from '@/components/ui/Alert';
import { Badge } from '@/components/ui/Badge';
import { Button, ButtonLink } from '@/components/ui/Button';
import { Card, PageHeader } from '@/components/ui/Card';
import { ConfirmDialog } from '@/components/ui/ConfirmDialog';
import { EmptyState } from '@/components/ui/EmptyState';
import { ProgressBar } from '@/components/ui/ProgressBar';
import { PageSkeleton } from '@/components/ui/Skeleton';
import { cn } from '@/components/ui/cn';
import { browserTimeZone, formatDate, formatDateTime } from '@/lib/dates';
import { errorMessage } from '@/lib/problem';
import { useDeletePlanMutation, useGetPlanQuery, useLazyPlanCalendarQuery, useSetItemDoneMutation, useUpdatePlanMutation } from '../api/plans';
import { planToInput, type Plan, type PlanItem } from '../schemas';
import { PriorityBadge, StatusBadge } from './PlanBadges';
import { useNow } from '@/lib/hooks';

export function PlanDetail({ id }: { id: string }) {
  const { data: plan, isLoading, error, refetch } = useGetPlanQuery(id);
  if (isLoading) return <PageSkeleton />;
  if (error || !plan) {
    return (
      <div className="space-y-4">
        <ErrorAlert error={error} onRetry={refetch} />
        <ButtonLink to="/plans" variant="secondary">
          Back to plans
        </ButtonLink>
      </div>
    );
  }
  return <PlanView plan={plan} />;
}

function PlanView({ plan }: { plan: Plan }) {
  const navigate = useNavigate();
  const [setDone] = useSetItemDoneMutation();
  const [toggleError, setToggleError] = useState<string | null>(null);
  // Reflects a click synchronously; the cache is patched optimistically by the mutation as well.
  const [pending, setPending] = useState<Record<string, boolean>>({});
  const [dialog, setDialog] = useState<'archive' | 'delete' | null>(null);
  const [update, updateState] = useUpdatePlanMutation();
  const [remove, removeState] = useDeletePlanMutation();
  const [fetchIcs, icsState] = useLazyPlanCalendarQuery();
  const isDone = (item: PlanItem) => pending[item.id] ?? !!item.doneAt;
  const total = plan.items.length;
  const done = plan.items.filter(isDone).length;
  const items = [...plan.items].sort((a, b) => a.position - b.position);
  const now = useNow();
  const viewerTz = browserTimeZone();

  async function toggle(item: PlanItem, next: boolean) {
    setToggleError(null);
    setPending((p) => ({ ...p, [item.id]: next }));
    try {
      await setDone({ planId: plan.id, itemId: item.id, done: next }).unwrap();
    } catch (err) {
      setToggleError(`Couldn't ${next ? 'check off' : 'reopen'} “${item.title}”: ${errorMessage(err)} The change was undone.`);
    } finally {
      setPending(({ [item.id]: _done, ...rest }) => rest);
    }
  }

  async function downloadIcs() {
    const result = await fetchIcs(plan.id);
    if (!result.data) return;
    const url = URL.createObjectURL(new Blob([result.data], { type: 'text/calendar' }));
    const a = document.createElement('a');
    a.href = url;
    a.download = `${plan.title.replace(/[^\w.-]+/g, '_') || 'plan'}.ics`;
    a.click();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  }

  return (
    <div className="space-y-6">
      <PageHeader
        title={plan.title}
        description={`${formatDate(plan.startDate)}${plan.endDate ? ` – ${formatDate(plan.endDate)}` : ''} · ${plan.timezone}`}
        actions={
          <>
            <ButtonLink to={`/plans/${plan.id}/edit`} variant="secondary">
              Edit
            </ButtonLink>
            <Button variant="secondary" onClick={() => void downloadIcs()} loading={icsState.isFetching}>
              Export .ics
            </Button>
            {plan.status !== 'archived' && (
              <Button variant="secondary" onClick={() => setDialog('archive')}>
                Archive
              </Button>
            )}
            <Button variant="danger-outline" onClick={() => setDialog('delete')}>
              Delete
            </Button>
          </>
        }
      />
      <div className="flex flex-wrap items-center gap-2">
        <StatusBadge status={plan.status} />
        <PriorityBadge priority={plan.priority} />
        {plan.tags.map((t) => (
          <Badge key={t}>#{t}</Badge>
        ))}
        {plan.recurrence && <Badge tone="sky">Repeats</Badge>}
      </div>
      {plan.description && <p className="max-w-prose whitespace-pre-line text-slate-700 dark:text-slate-300">{plan.description}</p>}
      {icsState.error && <ErrorAlert error={icsState.error} />}
      {updateState.error && <ErrorAlert error={updateState.error} />}
      {removeState.error && <ErrorAlert error={removeState.error} />}

      <Card className="space-y-4">
        <div className="flex flex-wrap items-center justify-between gap-2">
          <h2 className="text-lg font-semibold">Checklist</h2>
        </div>
        <ProgressBar value={done} max={total} label="Plan progress" />
        {toggleError && (
          <Alert tone="error" action={<Button size="sm" variant="ghost" onClick={() => setToggleError(null)}>Dismiss</Button>}>
            <span data-testid="toggle-error">{toggleError}</span>
          </Alert>
        )}
        {items.length === 0 ? (
          <EmptyState title="No items in this plan" action={<ButtonLink to={`/plans/${plan.id}/edit`}>Add items</ButtonLink>} />
        ) : (
          <ul className="divide-y divide-slate-200 dark:divide-slate-800" data-testid="plan-items">
            {items.map((item) => {
              const overdue = !isDone(item) && item.dueAt !== null && new Date(item.dueAt).getTime() < now;
              const checkboxId = `item-${item.id}`;
              return (
                <li key={item.id} className={cn('flex items-start gap-3 py-3', overdue && '-mx-2 rounded-lg bg-red-50 px-2 dark:bg-red-950/50')} data-testid="plan-item">
                  <input
                    id={checkboxId}
                    type="checkbox"
                    className="mt-1 size-5 shrink-0 accent-emerald-600"
                    checked={isDone(item)}
                    onChange={(e) => void toggle(item, e.target.checked)}
                    aria-describedby={item.dueAt ? `${checkboxId}-due` : undefined}
                  />
                  <div className="min-w-0 flex-1">
                    <label htmlFor={checkboxId} className={cn('block cursor-pointer font-medium break-words', isDone(item) && 'text-slate-500 line-through dark:text-slate-400')}>
                      {item.title}
                    </label>
                    <p id={`${checkboxId}-due`} className="text-xs text-slate-600 dark:text-slate-400">
                      {item.dueAt ? (
                        <>
                          Due{' '}
                          <time dateTime={item.dueAt} data-testid="item-due">
                            {formatDateTime(item.dueAt, plan.timezone)}
                          </time>
                          {viewerTz !== plan.timezone && <> ({formatDateTime(item.dueAt, viewerTz)} your time)</>}
                        </>
                      ) : (
                        'No due date'
                      )}
                      {item.durationMinutes ? ` · ${item.durationMinutes} min` : ''}
                      {overdue && <span className="ml-2 font-semibold text-red-700 dark:text-red-400">Overdue</span>}
                    </p>
                    {item.notes && <p className="mt-1 text-sm whitespace-pre-line text-slate-600 dark:text-slate-400">{item.notes}</p>}
                  </div>
                </li>
              );
            })}
          </ul>
        )}
      </Card>

      <ConfirmDialog
        open={dialog === 'archive'}
        title="Archive this plan?"
        confirmLabel="Archive plan"
        tone="primary"
        loading={updateState.isLoading}
        onCancel={() => setDialog(null)}
        onConfirm={async () => {
          try {
            await update({ id: plan.id, version: plan.version, body: planToInput(plan, { status: 'archived' }) }).unwrap();
          } catch {
            /* shown above */
          } finally {
            setDialog(null);
          }
        }}
      >
        Archived plans are hidden from the dashboard. You can still find them in the plan list.
      </ConfirmDialog>
      <ConfirmDialog
        open={dialog === 'delete'}
        title="Delete this plan?"
        confirmLabel="Delete plan"
        loading={removeState.isLoading}
        onCancel={() => setDialog(null)}
        onConfirm={async () => {
          try {
            await remove(plan.id).unwrap();
            navigate('/plans', { replace: true });
          } catch {
            setDialog(null);
          }
        }}
      >
        “{plan.title}” and its {total} item{total === 1 ? '' : 's'} will be deleted permanently.
      </ConfirmDialog>
    </div>
  );
}
