import type { ReactNode } from 'react';
import { errorMessage, toApiError } from '@/lib/problem';
import { useCountdown } from '@/lib/hooks';
import { formatWait } from '@/lib/problem';
import { Button } from './Button';
import { cn } from './cn';

type Tone = 'error' | 'info' | 'success' | 'warning';
const tones: Record<Tone, string> = {
  error: 'border-red-300 bg-red-50 text-red-900 dark:border-red-800 dark:bg-red-950 dark:text-red-100',
  info: 'border-sky-300 bg-sky-50 text-sky-900 dark:border-sky-800 dark:bg-sky-950 dark:text-sky-100',
  success: 'border-emerald-300 bg-emerald-50 text-emerald-900 dark:border-emerald-800 dark:bg-emerald-950 dark:text-emerald-100',
  warning: 'border-amber-300 bg-amber-50 text-amber-900 dark:border-amber-800 dark:bg-amber-950 dark:text-amber-100',
};

export function Alert({ tone = 'info', title, children, className, action }: { tone?: Tone; title?: ReactNode; children?: ReactNode; className?: string; action?: ReactNode }) {
  return (
    <div role={tone === 'error' || tone === 'warning' ? 'alert' : 'status'} className={cn('flex flex-wrap items-start gap-3 rounded-lg border px-4 py-3 text-sm', tones[tone], className)}>
      <div className="min-w-0 flex-1">
        {title && <p className="font-semibold">{title}</p>}
        {children && <div className={title ? 'mt-1' : undefined}>{children}</div>}
      </div>
      {action}
    </div>
  );
}

/** Shows an API error (with a live Retry-After countdown on 429) and an optional retry button. */
export function ErrorAlert({ error, onRetry, className }: { error: unknown; onRetry?: () => void; className?: string }) {
  const apiError = toApiError(error);
  const left = useCountdown(apiError?.status === 429 ? apiError.retryAfter : undefined);
  if (!apiError) return null;
  const message =
    apiError.status === 429
      ? left > 0
        ? `Too many requests. Try again in ${formatWait(left)}.`
        : 'Too many requests. You can try again now.'
      : errorMessage(apiError);
  return (
    <Alert
      tone="error"
      className={className}
      action={
        onRetry ? (
          <Button size="sm" variant="secondary" onClick={onRetry} disabled={left > 0}>
            Try again
          </Button>
        ) : undefined
      }
    >
      <span data-testid="error-message">{message}</span>
      {apiError.requestId && <span className="mt-1 block text-xs opacity-80">Request id: {apiError.requestId}</span>}
    </Alert>
  );
}
