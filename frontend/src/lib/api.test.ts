import { http, HttpResponse, delay } from 'msw';
import { describe, expect, it } from 'vitest';
import { makeStore } from '@/app/store';
import { makeAuth, problem } from '@/testing/factories';
import { authedState } from '@/testing/render';
import { API, server } from '@/testing/server';
import { api, restoreSession } from './api';

const probe = api.injectEndpoints({
  endpoints: (build) => ({
    probe: build.query<{ n: number }, number>({ query: (n) => `/probe/${n}` }),
  }),
  overrideExisting: true,
});

function protectedProbe(validToken: string, expiredType = 'token-expired') {
  return http.get(`${API}/probe/:n`, ({ request, params }) => {
    if (request.headers.get('Authorization') !== `Bearer ${validToken}`) {
      return HttpResponse.json(problem(401, expiredType), { status: 401, headers: { 'Content-Type': 'application/problem+json' } });
    }
    return HttpResponse.json({ n: Number(params.n) });
  });
}

describe('silent refresh', () => {
  it('shares ONE /refresh between several concurrent 401s and retries each request once', async () => {
    let refreshCalls = 0;
    let refreshBody: unknown;
    server.use(
      protectedProbe('fresh'),
      http.post(`${API}/auth/refresh`, async ({ request }) => {
        refreshCalls += 1;
        refreshBody = await request.json();
        await delay(30);
        return HttpResponse.json(makeAuth('fresh'));
      }),
    );
    const store = makeStore(authedState('stale'));
    const results = await Promise.all([1, 2, 3, 4].map((n) => store.dispatch(probe.endpoints.probe.initiate(n))));
    expect(refreshCalls).toBe(1);
    expect(refreshBody).toEqual({});
    expect(results.map((r) => r.data?.n)).toEqual([1, 2, 3, 4]);
    expect(store.getState().session.accessToken).toBe('fresh');
    expect(store.getState().session.status).toBe('authenticated');
  });

  it('ends the session with a message when the refresh is refused (revoked session)', async () => {
    let refreshCalls = 0;
    server.use(
      protectedProbe('never', 'session-revoked'),
      http.post(`${API}/auth/refresh`, () => {
        refreshCalls += 1;
        return HttpResponse.json(problem(401, 'invalid-token'), { status: 401 });
      }),
    );
    const store = makeStore(authedState('revoked'));
    const [a, b] = await Promise.all([store.dispatch(probe.endpoints.probe.initiate(10)), store.dispatch(probe.endpoints.probe.initiate(11))]);
    expect(a.error).toMatchObject({ status: 401 });
    expect(b.error).toMatchObject({ status: 401 });
    expect(refreshCalls).toBe(1);
    const session = store.getState().session;
    expect(session.status).toBe('anonymous');
    expect(session.accessToken).toBeNull();
    expect(session.notice).toMatch(/signed out from another device/);
  });

  it('restores the session from the refresh cookie on start', async () => {
    let credentials: RequestCredentials | undefined;
    server.use(
      http.post(`${API}/auth/refresh`, ({ request }) => {
        credentials = request.credentials;
        return HttpResponse.json(makeAuth('restored'));
      }),
    );
    const store = makeStore();
    expect(store.getState().session.status).toBe('unknown');
    await store.dispatch(restoreSession());
    expect(store.getState().session).toMatchObject({ status: 'authenticated', accessToken: 'restored' });
    expect(credentials).toBe('include');
  });

  it('becomes anonymous (without a notice) when there is no refresh cookie', async () => {
    server.use(http.post(`${API}/auth/refresh`, () => HttpResponse.json(problem(401, 'invalid-token'), { status: 401 })));
    const store = makeStore();
    await store.dispatch(restoreSession());
    expect(store.getState().session).toMatchObject({ status: 'anonymous', notice: null });
  });

  it('normalises 429 errors with Retry-After', async () => {
    server.use(
      http.get(`${API}/probe/:n`, () =>
        HttpResponse.json(problem(429, 'too-many-requests'), { status: 429, headers: { 'Retry-After': '42', 'Content-Type': 'application/problem+json' } }),
      ),
    );
    const store = makeStore(authedState('t'));
    const r = await store.dispatch(probe.endpoints.probe.initiate(99));
    expect(r.error).toMatchObject({ status: 429, retryAfter: 42 });
  });
});
