import { useState } from 'react';
import { ErrorAlert } from '@/components/ui/Alert';
import { Badge } from '@/components/ui/Badge';
import { Button } from '@/components/ui/Button';
import { SkeletonRows } from '@/components/ui/Skeleton';
import { formatDateTime, relativeTime } from '@/lib/dates';
import { useEndSessionMutation, useSessionsQuery } from '../api/auth';

function describeAgent(ua: string | null): string {
  if (!ua) return 'Unknown device';
  const browser = /Firefox\//.test(ua) ? 'Firefox' : /Edg\//.test(ua) ? 'Edge' : /Chrom(e|ium)\//.test(ua) ? 'Chrome' : /Safari\//.test(ua) ? 'Safari' : 'Browser';
  const os = /Windows/.test(ua) ? 'Windows' : /Android/.test(ua) ? 'Android' : /iPhone|iPad/.test(ua) ? 'iOS' : /Mac OS X/.test(ua) ? 'macOS' : /Linux/.test(ua) ? 'Linux' : '';
  return os ? `${browser} on ${os}` : browser;
}

export function SessionsList() {
  const { data, isLoading, error, refetch } = useSessionsQuery();
  const [endSession, endState] = useEndSessionMutation();
  const [ending, setEnding] = useState<string | null>(null);

  return (
    <section aria-labelledby="sessions-heading" className="space-y-4">
      <h2 id="sessions-heading" className="text-lg font-semibold">
        Active sessions
      </h2>
      {isLoading && <SkeletonRows count={2} label="Loading sessions" />}
      {error && <ErrorAlert error={error} onRetry={refetch} />}
      {endState.error && <ErrorAlert error={endState.error} />}
      {data && (
        <ul className="divide-y divide-slate-200 rounded-lg border border-slate-200 dark:divide-slate-800 dark:border-slate-800" data-testid="sessions">
          {data.map((s) => (
            <li key={s.id} className="flex flex-wrap items-center justify-between gap-3 p-3">
              <div className="min-w-0">
                <p className="flex items-center gap-2 text-sm font-medium">
                  {describeAgent(s.userAgent)} {s.current && <Badge tone="green">This device</Badge>}
                </p>
                <p className="text-xs text-slate-600 dark:text-slate-400">
                  {s.ip ?? 'unknown IP'} · signed in {formatDateTime(s.createdAt)}
                  {s.lastUsedAt && <> · last active {relativeTime(s.lastUsedAt)}</>}
                </p>
              </div>
              {!s.current && (
                <Button
                  size="sm"
                  variant="secondary"
                  loading={ending === s.id && endState.isLoading}
                  onClick={() => {
                    setEnding(s.id);
                    void endSession(s.id);
                  }}
                  aria-label={`End session ${describeAgent(s.userAgent)} from ${s.ip ?? 'unknown IP'}`}
                >
                  End session
                </Button>
              )}
            </li>
          ))}
          {data.length === 0 && <li className="p-3 text-sm text-slate-600 dark:text-slate-400">No active sessions.</li>}
        </ul>
      )}
    </section>
  );
}
