import { useRef, useState, type FormEvent } from 'react';
import { Alert, ErrorAlert } from '@/components/ui/Alert';
import { Button } from '@/components/ui/Button';
import { Card } from '@/components/ui/Card';
import { SelectField, TextAreaField, TextField } from '@/components/ui/Field';
import { localKey, moveItem } from '@/lib/array';
import { browserTimeZone, localInputToUtc, todayIn, utcToLocalInput } from '@/lib/dates';
import { focusFirstInvalid, validate, type FieldErrors } from '@/lib/form';
import { apiFieldErrors, toApiError } from '@/lib/problem';
import { useCreatePlanMutation, useUpdatePlanMutation } from '../api/plans';
import { LIMITS, PRIORITIES, PlanInputSchema, STATUSES, type Plan, type PlanStatus, type Priority } from '../schemas';
import { TimeZoneField } from './TimeZoneField';

interface ItemDraft {
  key: string;
  id?: string;
  title: string;
  notes: string;
  /** 'YYYY-MM-DDTHH:MM' wall-clock time in the plan's time zone. */
  due: string;
  durationMinutes: string;
  doneAt: string | null;
}

interface Draft {
  title: string;
  description: string;
  status: PlanStatus;
  priority: Priority;
  startDate: string;
  endDate: string;
  timezone: string;
  tags: string;
  items: ItemDraft[];
}

function toDraft(plan?: Plan): Draft {
  if (!plan) {
    const timezone = browserTimeZone();
    return { title: '', description: '', status: 'active', priority: 'medium', startDate: todayIn(timezone), endDate: '', timezone, tags: '', items: [] };
  }
  return {
    title: plan.title,
    description: plan.description,
    status: plan.status,
    priority: plan.priority,
    startDate: plan.startDate,
    endDate: plan.endDate ?? '',
    timezone: plan.timezone,
    tags: plan.tags.join(', '),
    items: [...plan.items]
      .sort((a, b) => a.position - b.position)
      .map((i) => ({
        key: localKey('item'),
        id: i.id,
        title: i.title,
        notes: i.notes ?? '',
        due: i.dueAt ? utcToLocalInput(i.dueAt, plan.timezone) : '',
        durationMinutes: i.durationMinutes === null ? '' : String(i.durationMinutes),
        doneAt: i.doneAt,
      })),
  };
}

export function PlanForm({ plan, onSaved, onCancel }: { plan?: Plan; onSaved: (p: Plan) => void; onCancel: () => void }) {
  const [draft, setDraft] = useState<Draft>(() => toDraft(plan));
  const [errors, setErrors] = useState<FieldErrors>({});
  const [announcement, setAnnouncement] = useState('');
  const formRef = useRef<HTMLFormElement>(null);
  const [create, createState] = useCreatePlanMutation();
  const [update, updateState] = useUpdatePlanMutation();
  const state = plan ? updateState : createState;

  const setItem = (i: number, patch: Partial<ItemDraft>) => setDraft((d) => ({ ...d, items: d.items.map((it, j) => (j === i ? { ...it, ...patch } : it)) }));

  function moveTo(from: number, to: number) {
    if (to < 0 || to >= draft.items.length) return;
    setDraft((d) => ({ ...d, items: moveItem(d.items, from, to) }));
    setAnnouncement(`Moved item to position ${to + 1}.`);
  }

  async function onSubmit(e: FormEvent) {
    e.preventDefault();
    state.reset();
    const v = validate(PlanInputSchema, {
      ...draft,
      recurrence: plan?.recurrence ?? null,
      items: draft.items.map((it) => ({
        id: it.id,
        title: it.title,
        notes: it.notes,
        dueAt: it.due ? (localInputToUtc(it.due, draft.timezone) ?? 'invalid') : null,
        durationMinutes: it.durationMinutes,
        doneAt: it.doneAt,
      })),
    });
    if (!v.ok) {
      setErrors(v.errors);
      focusFirstInvalid(formRef.current);
      return;
    }
    setErrors({});
    try {
      const saved = plan ? await update({ id: plan.id, version: plan.version, body: v.data }).unwrap() : await create(v.data).unwrap();
      onSaved(saved);
    } catch (err) {
      setErrors(apiFieldErrors(err));
      focusFirstInvalid(formRef.current);
    }
  }

  const apiError = toApiError(state.error);
  const stale = apiError?.status === 412;

  return (
    <form ref={formRef} onSubmit={onSubmit} noValidate className="space-y-6" aria-label={plan ? 'Edit plan' : 'New plan'}>
      {stale && (
        <Alert tone="warning" title="This plan was changed elsewhere">
          Reload the page to get the latest version, then apply your changes again.
        </Alert>
      )}
      {apiError && !stale && <ErrorAlert error={apiError} />}
      <Card className="grid gap-4 sm:grid-cols-2">
        <TextField containerClassName="sm:col-span-2" label="Title" name="title" value={draft.title} onChange={(e) => setDraft((d) => ({ ...d, title: e.target.value }))} error={errors.title} required />
        <TextAreaField
          containerClassName="sm:col-span-2"
          label="Description"
          rows={3}
          value={draft.description}
          onChange={(e) => setDraft((d) => ({ ...d, description: e.target.value }))}
          error={errors.description}
          hint={`${draft.description.length}/${LIMITS.description}`}
        />
        <SelectField label="Status" value={draft.status} onChange={(e) => setDraft((d) => ({ ...d, status: e.target.value as PlanStatus }))} error={errors.status}>
          {STATUSES.map((s) => (
            <option key={s} value={s}>
              {s[0]?.toUpperCase() + s.slice(1)}
            </option>
          ))}
        </SelectField>
        <SelectField label="Priority" value={draft.priority} onChange={(e) => setDraft((d) => ({ ...d, priority: e.target.value as Priority }))} error={errors.priority}>
          {PRIORITIES.map((p) => (
            <option key={p} value={p}>
              {p[0]?.toUpperCase() + p.slice(1)}
            </option>
          ))}
        </SelectField>
        <TextField label="Start date" type="date" value={draft.startDate} onChange={(e) => setDraft((d) => ({ ...d, startDate: e.target.value }))} error={errors.startDate} required />
        <TextField label="End date (optional)" type="date" value={draft.endDate} onChange={(e) => setDraft((d) => ({ ...d, endDate: e.target.value }))} error={errors.endDate} />
        <TimeZoneField value={draft.timezone} onChange={(timezone) => setDraft((d) => ({ ...d, timezone }))} error={errors.timezone} />
        <TextField label="Tags" value={draft.tags} onChange={(e) => setDraft((d) => ({ ...d, tags: e.target.value }))} error={errors.tags} hint="Comma separated" />
      </Card>

      <fieldset className="space-y-3">
        <legend className="text-lg font-semibold">Items ({draft.items.length})</legend>
        <p className="sr-only" role="status" aria-live="polite">
          {announcement}
        </p>
        {errors.items && <p className="text-xs font-medium text-red-700 dark:text-red-400">{errors.items}</p>}
        <ol className="space-y-3">
          {draft.items.map((it, i) => {
            const err = (f: string) => errors[`items.${i}.${f}`];
            const label = it.title || `Item ${i + 1}`;
            return (
              <li key={it.key} className="rounded-xl border border-slate-200 bg-white p-3 dark:border-slate-700 dark:bg-slate-900" data-testid="item-row">
                <div className="mb-2 flex items-center gap-2">
                  <span className="text-sm font-semibold text-slate-600 dark:text-slate-400">#{i + 1}</span>
                  {it.doneAt && <span className="text-xs text-emerald-700 dark:text-emerald-400">done</span>}
                  <div className="ml-auto flex gap-1">
                    <Button size="sm" variant="ghost" onClick={() => moveTo(i, i - 1)} disabled={i === 0} aria-label={`Move ${label} up`}>
                      ↑
                    </Button>
                    <Button size="sm" variant="ghost" onClick={() => moveTo(i, i + 1)} disabled={i === draft.items.length - 1} aria-label={`Move ${label} down`}>
                      ↓
                    </Button>
                    <Button
                      size="sm"
                      variant="ghost"
                      className="text-red-700 dark:text-red-400"
                      aria-label={`Remove ${label}`}
                      onClick={() => setDraft((d) => ({ ...d, items: d.items.filter((_, j) => j !== i) }))}
                    >
                      Remove
                    </Button>
                  </div>
                </div>
                <div className="grid gap-3 sm:grid-cols-6">
                  <TextField containerClassName="sm:col-span-6" label={`Item ${i + 1} title`} value={it.title} onChange={(e) => setItem(i, { title: e.target.value })} error={err('title')} />
                  <TextField containerClassName="sm:col-span-4" label={`Due (${draft.timezone})`} type="datetime-local" value={it.due} onChange={(e) => setItem(i, { due: e.target.value })} error={err('dueAt')} />
                  <TextField containerClassName="sm:col-span-2" label="Duration (min)" type="number" min={1} max={LIMITS.duration} value={it.durationMinutes} onChange={(e) => setItem(i, { durationMinutes: e.target.value })} error={err('durationMinutes')} />
                  <TextAreaField containerClassName="sm:col-span-6" label="Notes" rows={2} className="min-h-0" value={it.notes} onChange={(e) => setItem(i, { notes: e.target.value })} error={err('notes')} />
                </div>
              </li>
            );
          })}
        </ol>
        <Button
          variant="secondary"
          disabled={draft.items.length >= LIMITS.items}
          onClick={() => setDraft((d) => ({ ...d, items: [...d.items, { key: localKey('item'), title: '', notes: '', due: '', durationMinutes: '', doneAt: null }] }))}
        >
          + Add item
        </Button>
      </fieldset>
      <div className="flex flex-wrap justify-end gap-2 border-t border-slate-200 pt-4 dark:border-slate-800">
        <Button variant="secondary" onClick={onCancel}>
          Cancel
        </Button>
        <Button type="submit" loading={state.isLoading}>
          {plan ? 'Save plan' : 'Create plan'}
        </Button>
      </div>
    </form>
  );
}
