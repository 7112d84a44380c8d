import { useRef, useState, type FormEvent } from 'react';
import { ErrorAlert } from '@/components/ui/Alert';
import { Button } from '@/components/ui/Button';
import { Card } from '@/components/ui/Card';
import { TextField } from '@/components/ui/Field';
import {
  DEFAULT_TIME_OF_DAY,
  browserTimeZone,
  formatDateTime,
  formatOffset,
  isDateString,
  isValidTimeZone,
  previewDueDates,
  todayIn,
} from '@/lib/dates';
import { focusFirstInvalid, validate, type FieldErrors } from '@/lib/form';
import { uuid } from '@/lib/id';
import { apiFieldErrors, toApiError } from '@/lib/problem';
import { useCreateFromTemplateMutation } from '../api/plans';
import { FromTemplateSchema, type Plan } from '../schemas';
import { TimeZoneField } from './TimeZoneField';

export interface TemplateStepPreview {
  title: string;
  offsetDays: number;
  timeOfDay: string | null;
}

interface Props {
  templateId: string;
  templateName: string;
  steps: TemplateStepPreview[];
  onCreated: (plan: Plan) => void;
  onCancel: () => void;
}

export function FromTemplateForm({ templateId, templateName, steps, onCreated, onCancel }: Props) {
  const [values, setValues] = useState(() => {
    const timezone = browserTimeZone();
    return { title: templateName, startDate: todayIn(timezone), timezone };
  });
  const [errors, setErrors] = useState<FieldErrors>({});
  // One key per attempt: a retried submit (e.g. after a timeout) cannot create a second plan.
  const [idempotencyKey, setIdempotencyKey] = useState(uuid);
  const [create, { isLoading, error, reset }] = useCreateFromTemplateMutation();
  const formRef = useRef<HTMLFormElement>(null);

  const canPreview = isDateString(values.startDate) && isValidTimeZone(values.timezone);
  const dues = canPreview ? previewDueDates(values.startDate, values.timezone, steps) : [];
  const viewerTz = browserTimeZone();

  function change(patch: Partial<typeof values>) {
    setValues((v) => ({ ...v, ...patch }));
    setIdempotencyKey(uuid());
  }

  async function onSubmit(e: FormEvent) {
    e.preventDefault();
    reset();
    const v = validate(FromTemplateSchema, { ...values, templateId });
    if (!v.ok) {
      setErrors(v.errors);
      focusFirstInvalid(formRef.current);
      return;
    }
    setErrors({});
    try {
      const plan = await create({ ...v.data, idempotencyKey }).unwrap();
      onCreated(plan);
    } catch (err) {
      setErrors(apiFieldErrors(err));
      focusFirstInvalid(formRef.current);
    }
  }

  const apiError = toApiError(error);

  return (
    <form ref={formRef} onSubmit={onSubmit} noValidate className="grid gap-6 lg:grid-cols-5" aria-label="Create a plan from this template">
      <Card className="space-y-4 lg:col-span-2">
        {apiError && Object.keys(apiError.fieldErrors).length === 0 && <ErrorAlert error={apiError} />}
        <TextField label="Plan title" name="title" value={values.title} onChange={(e) => change({ title: e.target.value })} error={errors.title} data-testid="plan-title" />
        <TextField
          label="Start date"
          name="startDate"
          type="date"
          value={values.startDate}
          onChange={(e) => change({ startDate: e.target.value })}
          error={errors.startDate}
          required
          data-testid="start-date"
        />
        <TimeZoneField value={values.timezone} onChange={(timezone) => change({ timezone })} error={errors.timezone} />
        <div className="flex flex-wrap gap-2 pt-2">
          <Button type="submit" loading={isLoading} data-testid="create-plan">
            Create plan
          </Button>
          <Button variant="secondary" onClick={onCancel}>
            Cancel
          </Button>
        </div>
      </Card>
      <Card className="lg:col-span-3">
        <h2 className="mb-3 text-lg font-semibold">Preview</h2>
        {!canPreview ? (
          <p className="text-sm text-slate-600 dark:text-slate-400">Pick a valid start date and time zone to see the due dates.</p>
        ) : steps.length === 0 ? (
          <p className="text-sm text-slate-600 dark:text-slate-400">This template has no steps; the plan will start empty.</p>
        ) : (
          <div className="overflow-x-auto">
            <table className="w-full text-left text-sm" data-testid="preview">
              <caption className="sr-only">Due dates of the plan items</caption>
              <thead className="text-xs text-slate-600 uppercase dark:text-slate-400">
                <tr>
                  <th scope="col" className="py-2 pr-3">Step</th>
                  <th scope="col" className="py-2 pr-3">Offset</th>
                  <th scope="col" className="py-2">Due ({values.timezone})</th>
                </tr>
              </thead>
              <tbody className="divide-y divide-slate-200 dark:divide-slate-800">
                {steps.map((s, i) => {
                  const due = dues[i];
                  return (
                    <tr key={i} data-testid="preview-row">
                      <td className="py-2 pr-3 font-medium">{s.title}</td>
                      <td className="py-2 pr-3 whitespace-nowrap text-slate-600 dark:text-slate-400">
                        {formatOffset(s.offsetDays)} · {s.timeOfDay ?? DEFAULT_TIME_OF_DAY}
                      </td>
                      <td className="py-2">
                        {due && (
                          <>
                            <time dateTime={due.toISOString()} data-testid="preview-due">
                              {formatDateTime(due, values.timezone)}
                            </time>
                            {viewerTz !== values.timezone && <span className="block text-xs text-slate-600 dark:text-slate-400">your time: {formatDateTime(due, viewerTz)}</span>}
                          </>
                        )}
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        )}
      </Card>
    </form>
  );
}
