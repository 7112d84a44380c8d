import { useState } from 'react';
import { Button } from '@/components/ui/Button';
import { TextAreaField, TextField } from '@/components/ui/Field';
import { cn } from '@/components/ui/cn';
import { moveItem } from '@/lib/array';
import type { FieldErrors } from '@/lib/form';
import { LIMITS } from '../schemas';
import { emptyStep, type StepDraft } from '../step-draft';

interface StepEditorProps {
  steps: StepDraft[];
  onChange: (steps: StepDraft[]) => void;
  errors?: FieldErrors;
}

export function StepEditor({ steps, onChange, errors = {} }: StepEditorProps) {
  const [announcement, setAnnouncement] = useState('');
  const [dragFrom, setDragFrom] = useState<number | null>(null);
  const [dragOver, setDragOver] = useState<number | null>(null);

  function update(index: number, patch: Partial<StepDraft>) {
    onChange(steps.map((s, i) => (i === index ? { ...s, ...patch } : s)));
  }

  function move(from: number, to: number) {
    if (to < 0 || to >= steps.length || from === to) return;
    const title = steps[from]?.title || `Step ${from + 1}`;
    onChange(moveItem(steps, from, to));
    setAnnouncement(`Moved “${title}” to position ${to + 1} of ${steps.length}.`);
  }

  function remove(index: number) {
    const title = steps[index]?.title || `Step ${index + 1}`;
    onChange(steps.filter((_, i) => i !== index));
    setAnnouncement(`Removed “${title}”.`);
  }

  function add() {
    const last = steps[steps.length - 1];
    const nextOffset = last && last.offsetDays.trim() !== '' && !Number.isNaN(Number(last.offsetDays)) ? Number(last.offsetDays) + 1 : 0;
    onChange([...steps, emptyStep(Math.min(nextOffset, LIMITS.offset))]);
    setAnnouncement(`Added step ${steps.length + 1}.`);
  }

  return (
    <fieldset className="space-y-3">
      <legend className="text-sm font-medium text-slate-700 dark:text-slate-200">
        Steps <span className="font-normal text-slate-600 dark:text-slate-400">({steps.length})</span>
      </legend>
      <p className="sr-only" aria-live="polite" role="status">
        {announcement}
      </p>
      {errors.steps && (
        <p className="text-xs font-medium text-red-700 dark:text-red-400" role="alert">
          {errors.steps}
        </p>
      )}
      {steps.length === 0 && (
        <p className="rounded-lg border border-dashed border-slate-300 p-4 text-center text-sm text-slate-600 dark:border-slate-700 dark:text-slate-400">
          No steps yet. Add the first one.
        </p>
      )}
      <ol className="space-y-3" data-testid="step-list">
        {steps.map((step, i) => {
          const err = (f: string) => errors[`steps.${i}.${f}`];
          const label = step.title || `Step ${i + 1}`;
          return (
            <li
              key={step.key}
              data-testid="step-row"
              onDragOver={(e) => {
                if (dragFrom === null) return;
                e.preventDefault();
                e.dataTransfer.dropEffect = 'move';
                setDragOver(i);
              }}
              onDragLeave={() => setDragOver((d) => (d === i ? null : d))}
              onDrop={(e) => {
                e.preventDefault();
                if (dragFrom !== null) move(dragFrom, i);
                setDragFrom(null);
                setDragOver(null);
              }}
              className={cn(
                'rounded-xl border bg-white p-3 sm:p-4 dark:bg-slate-900',
                dragOver === i && dragFrom !== i ? 'border-indigo-500 ring-2 ring-indigo-300 dark:ring-indigo-700' : 'border-slate-200 dark:border-slate-700',
                dragFrom === i && 'opacity-60',
              )}
            >
              <div className="mb-3 flex flex-wrap items-center gap-2">
                <span
                  draggable
                  onDragStart={(e) => {
                    setDragFrom(i);
                    e.dataTransfer.effectAllowed = 'move';
                    e.dataTransfer.setData('text/plain', String(i));
                  }}
                  onDragEnd={() => {
                    setDragFrom(null);
                    setDragOver(null);
                  }}
                  className="cursor-grab rounded px-1 text-slate-500 select-none active:cursor-grabbing dark:text-slate-400"
                  title="Drag to reorder"
                  aria-hidden="true"
                >
                  ⠿
                </span>
                <span className="flex size-6 items-center justify-center rounded-full bg-indigo-100 text-xs font-semibold text-indigo-800 dark:bg-indigo-950 dark:text-indigo-200">
                  {i + 1}
                </span>
                <div className="ml-auto flex gap-1">
                  <Button size="sm" variant="ghost" onClick={() => move(i, i - 1)} disabled={i === 0} aria-label={`Move ${label} up`}>
                    ↑
                  </Button>
                  <Button size="sm" variant="ghost" onClick={() => move(i, i + 1)} disabled={i === steps.length - 1} aria-label={`Move ${label} down`}>
                    ↓
                  </Button>
                  <Button size="sm" variant="ghost" onClick={() => remove(i)} aria-label={`Remove ${label}`} className="text-red-700 dark:text-red-400">
                    Remove
                  </Button>
                </div>
              </div>
              <div className="grid gap-3 sm:grid-cols-6">
                <TextField
                  containerClassName="sm:col-span-6"
                  label={`Step ${i + 1} title`}
                  value={step.title}
                  maxLength={LIMITS.stepTitle + 50}
                  onChange={(e) => update(i, { title: e.target.value })}
                  error={err('title')}
                  data-testid="step-title"
                />
                <TextField
                  containerClassName="sm:col-span-2"
                  label="Day offset"
                  type="number"
                  inputMode="numeric"
                  step={1}
                  min={-LIMITS.offset}
                  max={LIMITS.offset}
                  value={step.offsetDays}
                  onChange={(e) => update(i, { offsetDays: e.target.value })}
                  error={err('offsetDays')}
                  data-testid="step-offset"
                />
                <TextField
                  containerClassName="sm:col-span-2"
                  label="Time of day"
                  type="time"
                  value={step.timeOfDay}
                  onChange={(e) => update(i, { timeOfDay: e.target.value })}
                  error={err('timeOfDay')}
                  hint="Default 09:00"
                  data-testid="step-time"
                />
                <TextField
                  containerClassName="sm:col-span-2"
                  label="Duration (min)"
                  type="number"
                  inputMode="numeric"
                  min={1}
                  max={LIMITS.duration}
                  value={step.durationMinutes}
                  onChange={(e) => update(i, { durationMinutes: e.target.value })}
                  error={err('durationMinutes')}
                />
                <TextAreaField
                  containerClassName="sm:col-span-6"
                  label="Notes"
                  rows={2}
                  className="min-h-0"
                  value={step.notes}
                  onChange={(e) => update(i, { notes: e.target.value })}
                  error={err('notes')}
                />
              </div>
            </li>
          );
        })}
      </ol>
      <Button variant="secondary" onClick={add} disabled={steps.length >= LIMITS.steps} data-testid="add-step">
        + Add step
      </Button>
    </fieldset>
  );
}
