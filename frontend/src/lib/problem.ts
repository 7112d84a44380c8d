import { z } from 'zod';

/** RFC 9457 problem details as sent by the gateway. */
export const ProblemSchema = z.looseObject({
  type: z.string().optional(),
  title: z.string().optional(),
  status: z.number().optional(),
  detail: z.string().optional(),
  requestId: z.string().optional(),
  errors: z.array(z.object({ field: z.string(), message: z.string() })).optional(),
});
export type Problem = z.infer<typeof ProblemSchema>;

/** Normalised, serialisable error used by every API call. */
export interface ApiError {
  /** HTTP status, or a pseudo status when no response arrived. */
  status: number | 'NETWORK' | 'TIMEOUT' | 'PARSE';
  /** Problem type URI ('' if unknown). */
  type: string;
  title: string;
  detail?: string;
  requestId?: string;
  /** Field name → message. */
  fieldErrors: Record<string, string>;
  /** Seconds to wait, from Retry-After on 429. */
  retryAfter?: number;
}

export function parseRetryAfter(value: string | null | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, Math.ceil(seconds));
  const date = Date.parse(value);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, Math.ceil((date - now) / 1000));
}

export function problemToApiError(status: number, body: unknown, retryAfter?: number): ApiError {
  const parsed = ProblemSchema.safeParse(body);
  const problem: Problem = parsed.success ? parsed.data : {};
  const fieldErrors: Record<string, string> = {};
  for (const e of problem.errors ?? []) {
    // keep the first message per field
    if (!(e.field in fieldErrors)) fieldErrors[e.field] = e.message;
  }
  return {
    status,
    type: problem.type ?? '',
    title: problem.title ?? defaultTitle(status),
    detail: problem.detail,
    requestId: problem.requestId,
    fieldErrors,
    retryAfter,
  };
}

function defaultTitle(status: number): string {
  if (status === 401) return 'You need to sign in again';
  if (status === 403) return 'You are not allowed to do that';
  if (status === 404) return 'Not found';
  if (status === 409) return 'Conflict';
  if (status === 412) return 'Someone else changed this in the meantime';
  if (status === 429) return 'Too many requests';
  if (status >= 500) return 'The server had a problem';
  return 'Request failed';
}

export function problemTypeIs(error: ApiError | undefined, suffix: string): boolean {
  return !!error && error.type.endsWith(`/${suffix}`);
}

function isApiError(value: unknown): value is ApiError {
  return typeof value === 'object' && value !== null && 'status' in value && 'fieldErrors' in value && 'title' in value;
}

/** Turns whatever RTK Query put in `error` into an ApiError. */
export function toApiError(error: unknown): ApiError | undefined {
  if (error === undefined || error === null) return undefined;
  if (isApiError(error)) return error;
  const message = typeof error === 'object' && 'message' in error ? String((error as { message: unknown }).message) : undefined;
  return { status: 'PARSE', type: '', title: 'Unexpected response from the server', detail: message, fieldErrors: {} };
}

/** A one-line human message for an error. */
export function errorMessage(error: unknown): string {
  const e = toApiError(error);
  if (!e) return '';
  if (e.status === 'NETWORK') return 'Cannot reach the server. Check your connection and try again.';
  if (e.status === 'TIMEOUT') return 'The server took too long to answer. Please try again.';
  if (e.status === 429) {
    return e.retryAfter !== undefined
      ? `Too many attempts. Try again in ${formatWait(e.retryAfter)}.`
      : 'Too many attempts. Please wait a moment and try again.';
  }
  if (e.status === 412) return 'This was changed elsewhere since you opened it. Reload to get the latest version.';
  return e.detail ? `${e.title}: ${e.detail}` : e.title;
}

export function formatWait(seconds: number): string {
  if (seconds < 60) return `${seconds} second${seconds === 1 ? '' : 's'}`;
  const minutes = Math.ceil(seconds / 60);
  return `${minutes} minute${minutes === 1 ? '' : 's'}`;
}

/**
 * Maps API field errors onto form fields. `aliases` maps API field names
 * (e.g. "steps[0].title" or "login") onto form field names.
 */
export function apiFieldErrors(error: unknown, aliases: Record<string, string> = {}): Record<string, string> {
  const e = toApiError(error);
  if (!e) return {};
  const out: Record<string, string> = {};
  for (const [field, message] of Object.entries(e.fieldErrors)) {
    const normalised = field.replace(/\[(\d+)\]/g, '.$1').replace(/^\//, '').replace(/\//g, '.');
    const key = aliases[field] ?? aliases[normalised] ?? normalised;
    if (!(key in out)) out[key] = message;
  }
  return out;
}
