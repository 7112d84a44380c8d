import { useId, type InputHTMLAttributes, type ReactNode, type SelectHTMLAttributes, type TextareaHTMLAttributes } from 'react';
import { cn } from './cn';

const controlClass =
  'block w-full rounded-lg border bg-white px-3 py-2 text-sm text-slate-900 placeholder:text-slate-500 shadow-xs dark:bg-slate-900 dark:text-slate-100 dark:placeholder:text-slate-400 disabled:opacity-60';

function controlBorder(invalid: boolean) {
  return invalid ? 'border-red-600 dark:border-red-400' : 'border-slate-300 dark:border-slate-600';
}

interface FieldShellProps {
  id: string;
  label: ReactNode;
  error?: string;
  hint?: ReactNode;
  children: ReactNode;
  className?: string;
  srOnlyLabel?: boolean;
}

function FieldShell({ id, label, error, hint, children, className, srOnlyLabel }: FieldShellProps) {
  return (
    <div className={cn('space-y-1', className)}>
      <label htmlFor={id} className={cn('block text-sm font-medium text-slate-700 dark:text-slate-200', srOnlyLabel && 'sr-only')}>
        {label}
      </label>
      {children}
      {hint && !error && (
        <p id={`${id}-hint`} className="text-xs text-slate-600 dark:text-slate-400">
          {hint}
        </p>
      )}
      {error && (
        <p id={`${id}-error`} className="text-xs font-medium text-red-700 dark:text-red-400" data-testid="field-error">
          {error}
        </p>
      )}
    </div>
  );
}

function describedBy(id: string, error?: string, hint?: ReactNode) {
  return error ? `${id}-error` : hint ? `${id}-hint` : undefined;
}

type Common = { label: ReactNode; error?: string; hint?: ReactNode; containerClassName?: string; srOnlyLabel?: boolean };

export function TextField({ label, error, hint, containerClassName, srOnlyLabel, id, className, ...rest }: Common & InputHTMLAttributes<HTMLInputElement>) {
  const auto = useId();
  const fid = id ?? auto;
  return (
    <FieldShell id={fid} label={label} error={error} hint={hint} className={containerClassName} srOnlyLabel={srOnlyLabel}>
      <input
        id={fid}
        aria-invalid={error ? true : undefined}
        aria-describedby={describedBy(fid, error, hint)}
        className={cn(controlClass, controlBorder(!!error), className)}
        {...rest}
      />
    </FieldShell>
  );
}

export function TextAreaField({ label, error, hint, containerClassName, srOnlyLabel, id, className, ...rest }: Common & TextareaHTMLAttributes<HTMLTextAreaElement>) {
  const auto = useId();
  const fid = id ?? auto;
  return (
    <FieldShell id={fid} label={label} error={error} hint={hint} className={containerClassName} srOnlyLabel={srOnlyLabel}>
      <textarea
        id={fid}
        aria-invalid={error ? true : undefined}
        aria-describedby={describedBy(fid, error, hint)}
        className={cn(controlClass, controlBorder(!!error), 'min-h-20', className)}
        {...rest}
      />
    </FieldShell>
  );
}

export function SelectField({ label, error, hint, containerClassName, srOnlyLabel, id, className, children, ...rest }: Common & SelectHTMLAttributes<HTMLSelectElement>) {
  const auto = useId();
  const fid = id ?? auto;
  return (
    <FieldShell id={fid} label={label} error={error} hint={hint} className={containerClassName} srOnlyLabel={srOnlyLabel}>
      <select
        id={fid}
        aria-invalid={error ? true : undefined}
        aria-describedby={describedBy(fid, error, hint)}
        className={cn(controlClass, controlBorder(!!error), className)}
        {...rest}
      >
        {children}
      </select>
    </FieldShell>
  );
}
