import { useState } from 'react';
import { useNavigate } from 'react-router';
import { ErrorAlert } from '@/components/ui/Alert';
import { Badge } from '@/components/ui/Badge';
import { Button, ButtonLink } from '@/components/ui/Button';
import { Card, PageHeader } from '@/components/ui/Card';
import { ConfirmDialog } from '@/components/ui/ConfirmDialog';
import { EmptyState } from '@/components/ui/EmptyState';
import { PageSkeleton } from '@/components/ui/Skeleton';
import { DEFAULT_TIME_OF_DAY, formatDateTime, formatOffset } from '@/lib/dates';
import { useAppSelector } from '@/lib/hooks';
import { selectUser } from '@/lib/session';
import { useDeleteTemplateMutation, useGetTemplateQuery } from '../api/templates';

export function TemplateDetail({ id }: { id: string }) {
  const { data: template, isLoading, error, refetch } = useGetTemplateQuery(id);
  const user = useAppSelector(selectUser);
  const navigate = useNavigate();
  const [confirming, setConfirming] = useState(false);
  const [remove, removeState] = useDeleteTemplateMutation();

  if (isLoading) return <PageSkeleton />;
  if (error || !template) {
    return (
      <div className="space-y-4">
        <ErrorAlert error={error} onRetry={refetch} />
        <ButtonLink to="/templates" variant="secondary">
          Back to templates
        </ButtonLink>
      </div>
    );
  }
  const mine = user?.id === template.ownerId;

  return (
    <div className="space-y-6">
      <PageHeader
        title={template.name}
        description={`${template.category} · updated ${formatDateTime(template.updatedAt)}`}
        actions={
          <>
            <ButtonLink to={`/templates/${template.id}/use`} data-testid="use-template">
              Use this template
            </ButtonLink>
            {mine && (
              <>
                <ButtonLink to={`/templates/${template.id}/edit`} variant="secondary">
                  Edit
                </ButtonLink>
                <Button variant="danger-outline" onClick={() => setConfirming(true)}>
                  Delete
                </Button>
              </>
            )}
          </>
        }
      />
      <div className="flex flex-wrap gap-2">
        {template.visibility === 'public' ? <Badge tone="green">Public</Badge> : <Badge>Private</Badge>}
        {template.tags.map((t) => (
          <Badge key={t}>#{t}</Badge>
        ))}
      </div>
      {template.description && <p className="max-w-prose whitespace-pre-line text-slate-700 dark:text-slate-300">{template.description}</p>}
      {removeState.error && <ErrorAlert error={removeState.error} />}
      <Card>
        <h2 className="mb-4 text-lg font-semibold">
          Steps <span className="text-sm font-normal text-slate-600 dark:text-slate-400">({template.steps.length})</span>
        </h2>
        {template.steps.length === 0 ? (
          <EmptyState title="This template has no steps" />
        ) : (
          <ol className="relative space-y-4 border-l-2 border-indigo-200 pl-6 dark:border-indigo-900" data-testid="template-steps">
            {template.steps.map((s, i) => (
              <li key={i} className="relative">
                <span aria-hidden="true" className="absolute top-1 -left-[31px] size-3 rounded-full border-2 border-white bg-indigo-600 dark:border-slate-900 dark:bg-indigo-400" />
                <div className="flex flex-wrap items-baseline gap-x-3 gap-y-1">
                  <span className="text-xs font-semibold tracking-wide text-indigo-700 uppercase dark:text-indigo-300">{formatOffset(s.offsetDays)}</span>
                  <span className="text-xs text-slate-600 dark:text-slate-400">
                    {s.timeOfDay ?? DEFAULT_TIME_OF_DAY}
                    {s.durationMinutes ? ` · ${s.durationMinutes} min` : ''}
                  </span>
                </div>
                <p className="font-medium">{s.title}</p>
                {s.notes && <p className="mt-0.5 text-sm whitespace-pre-line text-slate-600 dark:text-slate-400">{s.notes}</p>}
              </li>
            ))}
          </ol>
        )}
      </Card>
      <ConfirmDialog
        open={confirming}
        title="Delete this template?"
        confirmLabel="Delete template"
        loading={removeState.isLoading}
        onCancel={() => setConfirming(false)}
        onConfirm={async () => {
          try {
            await remove(template.id).unwrap();
            navigate('/templates', { replace: true });
          } catch {
            setConfirming(false);
          }
        }}
      >
        “{template.name}” will be removed. Plans already created from it are kept.
      </ConfirmDialog>
    </div>
  );
}
