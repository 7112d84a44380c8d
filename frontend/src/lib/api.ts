import type { BaseQueryFn, FetchArgs, FetchBaseQueryError, FetchBaseQueryMeta } from '@reduxjs/toolkit/query';
import { createApi, fetchBaseQuery } from '@reduxjs/toolkit/query/react';
import type { Dispatch } from '@reduxjs/toolkit';
import { API_PREFIX, env } from '@/config/env';
import { parseRetryAfter, problemToApiError, type ApiError } from './problem';
import { AuthResponseSchema } from './schemas';
import { credentialsReceived, sessionEnded, type WithSession } from './session';

const rawBaseQuery = fetchBaseQuery({
  baseUrl: API_PREFIX,
  credentials: 'include',
  timeout: env.VITE_API_TIMEOUT,
  prepareHeaders: (headers, { getState }) => {
    const token = (getState() as WithSession).session.accessToken;
    if (token && !headers.has('Authorization')) headers.set('Authorization', `Bearer ${token}`);
    if (!headers.has('Accept')) headers.set('Accept', 'application/json, application/problem+json');
    return headers;
  },
});

type RefreshOutcome = 'ok' | 'rejected' | 'error';
let inflightRefresh: Promise<RefreshOutcome> | null = null;

async function performRefresh(dispatch: Dispatch): Promise<RefreshOutcome> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), env.VITE_API_TIMEOUT);
  try {
    // The refresh token lives in the httpOnly `plangen_refresh` cookie; the body stays empty.
    const response = await fetch(`${API_PREFIX}/auth/refresh`, {
      method: 'POST',
      credentials: 'include',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json, application/problem+json' },
      body: '{}',
      signal: controller.signal,
    });
    if (!response.ok) return response.status >= 500 ? 'error' : 'rejected';
    const auth = AuthResponseSchema.parse(await response.json());
    dispatch(credentialsReceived({ auth }));
    return 'ok';
  } catch {
    return 'error';
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Single-flight refresh: concurrent callers share one POST /auth/refresh.
 */
export function refreshSession(dispatch: Dispatch): Promise<RefreshOutcome> {
  inflightRefresh ??= performRefresh(dispatch).finally(() => {
    inflightRefresh = null;
  });
  return inflightRefresh;
}

/** Restores the session after a page load from the refresh cookie. */
export const restoreSession = () => async (dispatch: Dispatch) => {
  const outcome = await refreshSession(dispatch);
  if (outcome !== 'ok') dispatch(sessionEnded({ reason: 'none' }));
  return outcome;
};

const NO_REFRESH = ['/auth/login', '/auth/register', '/auth/refresh'];

function urlOf(args: string | FetchArgs): string {
  return typeof args === 'string' ? args : args.url;
}

function normaliseError(error: FetchBaseQueryError, meta: FetchBaseQueryMeta | undefined): ApiError {
  if (typeof error.status === 'number') {
    const retryAfter = error.status === 429 ? parseRetryAfter(meta?.response?.headers.get('Retry-After')) : undefined;
    return problemToApiError(error.status, error.data, retryAfter);
  }
  if (error.status === 'TIMEOUT_ERROR') return { status: 'TIMEOUT', type: '', title: 'Request timed out', fieldErrors: {} };
  if (error.status === 'FETCH_ERROR') return { status: 'NETWORK', type: '', title: 'Network error', fieldErrors: {} };
  if (error.status === 'PARSING_ERROR') {
    // A non-JSON error body still carries a meaningful HTTP status.
    const status = error.originalStatus;
    return problemToApiError(status, undefined);
  }
  return { status: 'PARSE', type: '', title: 'Unexpected error', detail: String(error.error), fieldErrors: {} };
}

export const baseQuery: BaseQueryFn<string | FetchArgs, unknown, ApiError, object, FetchBaseQueryMeta> = async (
  args,
  api,
  extraOptions,
) => {
  const tokenUsed = (api.getState() as WithSession).session.accessToken;
  let result = await rawBaseQuery(args, api, extraOptions);
  const url = urlOf(args);
  if (result.error && result.error.status === 401 && !NO_REFRESH.some((p) => url.startsWith(p))) {
    const first = normaliseError(result.error, result.meta);
    if (!first.type.endsWith('/invalid-credentials')) {
      const current = (api.getState() as WithSession).session.accessToken;
      // Another request may already have refreshed the token while this one was in flight.
      const outcome: RefreshOutcome = current && current !== tokenUsed ? 'ok' : await refreshSession(api.dispatch);
      if (outcome === 'ok') {
        result = await rawBaseQuery(args, api, extraOptions);
      }
      if (outcome === 'rejected' || (outcome === 'ok' && result.error?.status === 401)) {
        api.dispatch(sessionEnded({ reason: first.type.endsWith('/session-revoked') ? 'revoked' : 'expired' }));
      }
    }
  }
  if (result.error) return { error: normaliseError(result.error, result.meta), meta: result.meta };
  return { data: result.data, meta: result.meta };
};

/** The one RTK Query API for the gateway; features add endpoints with injectEndpoints. */
export const api = createApi({
  reducerPath: 'api',
  baseQuery,
  tagTypes: ['Me', 'Sessions', 'Template', 'Categories', 'Plan', 'Schedule'],
  endpoints: () => ({}),
});
