import { describe, expect, it } from 'vitest';
import { makeAuth, makeUser } from '@/testing/factories';
import { credentialsReceived, initialSessionState, noticeCleared, sessionEnded, sessionSlice, userUpdated } from './session';

const reduce = sessionSlice.reducer;

describe('session slice', () => {
  it('starts unknown until the refresh cookie has been tried', () => {
    expect(reduce(undefined, { type: '@@init' })).toEqual(initialSessionState);
  });

  it('stores credentials in memory with an expiry', () => {
    const s = reduce(initialSessionState, credentialsReceived({ auth: makeAuth('tok'), now: 1_000 }));
    expect(s).toMatchObject({ status: 'authenticated', accessToken: 'tok', expiresAt: 901_000, notice: null });
    expect(s.user?.username).toBe('ada');
  });

  it('updates the user after a profile change', () => {
    const s = reduce(reduce(initialSessionState, credentialsReceived({ auth: makeAuth() })), userUpdated(makeUser({ name: 'Grace' })));
    expect(s.user?.name).toBe('Grace');
  });

  it('clears credentials and explains why the session ended', () => {
    const authed = reduce(initialSessionState, credentialsReceived({ auth: makeAuth() }));
    const revoked = reduce(authed, sessionEnded({ reason: 'revoked' }));
    expect(revoked).toMatchObject({ status: 'anonymous', accessToken: null, user: null });
    expect(revoked.notice).toMatch(/ended/);
    expect(reduce(authed, sessionEnded({ reason: 'expired' })).notice).toMatch(/expired/);
    expect(reduce(authed, sessionEnded({ reason: 'logout' })).notice).toBeNull();
    expect(reduce(revoked, noticeCleared()).notice).toBeNull();
  });
});
