import { useRef, useState, type FormEvent } from 'react';
import { Alert, ErrorAlert } from '@/components/ui/Alert';
import { Button } from '@/components/ui/Button';
import { TextAreaField, TextField } from '@/components/ui/Field';
import { focusFirstInvalid, validate, type FieldErrors } from '@/lib/form';
import { apiFieldErrors, toApiError } from '@/lib/problem';
import { useCategoriesQuery, useCreateTemplateMutation, useUpdateTemplateMutation } from '../api/templates';
import { LIMITS, TemplateInputSchema, type Template } from '../schemas';
import { draftToInput, emptyStep, stepToDraft, type StepDraft } from '../step-draft';
import { StepEditor } from './StepEditor';

interface Draft {
  name: string;
  description: string;
  category: string;
  tags: string;
  visibility: 'private' | 'public';
  steps: StepDraft[];
}

function toDraft(t?: Template): Draft {
  if (!t) return { name: '', description: '', category: '', tags: '', visibility: 'private', steps: [emptyStep(0)] };
  return {
    name: t.name,
    description: t.description,
    category: t.category,
    tags: t.tags.join(', '),
    visibility: t.visibility,
    steps: t.steps.map(stepToDraft),
  };
}

export function TemplateForm({ template, onSaved, onCancel }: { template?: Template; onSaved: (t: Template) => void; onCancel: () => void }) {
  const [draft, setDraft] = useState<Draft>(() => toDraft(template));
  const [errors, setErrors] = useState<FieldErrors>({});
  const formRef = useRef<HTMLFormElement>(null);
  const categories = useCategoriesQuery();
  const [create, createState] = useCreateTemplateMutation();
  const [update, updateState] = useUpdateTemplateMutation();
  const state = template ? updateState : createState;

  async function onSubmit(e: FormEvent) {
    e.preventDefault();
    state.reset();
    const v = validate(TemplateInputSchema, { ...draft, steps: draft.steps.map(draftToInput) });
    if (!v.ok) {
      setErrors(v.errors);
      focusFirstInvalid(formRef.current);
      return;
    }
    setErrors({});
    try {
      const saved = template ? await update({ id: template.id, version: template.version, body: v.data }).unwrap() : await create(v.data).unwrap();
      onSaved(saved);
    } catch (err) {
      setErrors(apiFieldErrors(err));
      focusFirstInvalid(formRef.current);
    }
  }

  const apiError = toApiError(state.error);
  const stale = apiError?.status === 412;

  return (
    <form ref={formRef} onSubmit={onSubmit} noValidate className="space-y-6" aria-label={template ? 'Edit template' : 'New template'}>
      {stale && (
        <Alert tone="warning" title="This template was changed elsewhere">
          Your copy is out of date (version {template?.version}). Reload the page to get the latest version, then apply your changes again.
        </Alert>
      )}
      {apiError && !stale && <ErrorAlert error={apiError} />}
      <div className="grid gap-4 sm:grid-cols-2">
        <TextField
          containerClassName="sm:col-span-2"
          label="Name"
          name="name"
          value={draft.name}
          onChange={(e) => setDraft((d) => ({ ...d, name: e.target.value }))}
          error={errors.name}
          maxLength={LIMITS.name + 50}
          required
        />
        <div>
          <TextField
            label="Category"
            name="category"
            list="template-categories"
            value={draft.category}
            onChange={(e) => setDraft((d) => ({ ...d, category: e.target.value }))}
            error={errors.category}
            required
          />
          <datalist id="template-categories">
            {categories.data?.map((c) => (
              <option key={c.name} value={c.name} />
            ))}
          </datalist>
        </div>
        <TextField
          label="Tags"
          name="tags"
          value={draft.tags}
          onChange={(e) => setDraft((d) => ({ ...d, tags: e.target.value }))}
          error={errors.tags ?? Object.entries(errors).find(([k]) => k.startsWith('tags.'))?.[1]}
          hint="Comma separated, up to 20"
        />
        <TextAreaField
          containerClassName="sm:col-span-2"
          label="Description"
          name="description"
          rows={3}
          value={draft.description}
          onChange={(e) => setDraft((d) => ({ ...d, description: e.target.value }))}
          error={errors.description}
          hint={`${draft.description.length}/${LIMITS.description}`}
        />
        <fieldset className="sm:col-span-2">
          <legend className="text-sm font-medium text-slate-700 dark:text-slate-200">Visibility</legend>
          <div className="mt-2 flex flex-wrap gap-3">
            {(['private', 'public'] as const).map((v) => (
              <label
                key={v}
                className="flex cursor-pointer items-center gap-2 rounded-lg border border-slate-300 px-3 py-2 text-sm has-[:checked]:border-indigo-600 has-[:checked]:bg-indigo-50 dark:border-slate-600 dark:has-[:checked]:border-indigo-400 dark:has-[:checked]:bg-indigo-950"
              >
                <input type="radio" name="visibility" value={v} checked={draft.visibility === v} onChange={() => setDraft((d) => ({ ...d, visibility: v }))} />
                {v === 'private' ? 'Private — only you' : 'Public — everyone can use it'}
              </label>
            ))}
          </div>
        </fieldset>
      </div>
      <StepEditor steps={draft.steps} onChange={(steps) => setDraft((d) => ({ ...d, steps }))} errors={errors} />
      <div className="flex flex-wrap justify-end gap-2 border-t border-slate-200 pt-4 dark:border-slate-800">
        <Button variant="secondary" onClick={onCancel}>
          Cancel
        </Button>
        <Button type="submit" loading={state.isLoading} data-testid="save-template">
          {template ? 'Save changes' : 'Create template'}
        </Button>
      </div>
    </form>
  );
}
