import { createSlice, type PayloadAction } from '@reduxjs/toolkit';
import type { AuthResponse, User } from './schemas';

export type SessionStatus = 'unknown' | 'authenticated' | 'anonymous';
export type SessionEndReason = 'logout' | 'expired' | 'revoked' | 'none';

export interface SessionState {
  status: SessionStatus;
  /** Access token: kept in memory only (never persisted). */
  accessToken: string | null;
  /** Epoch ms when the access token expires. */
  expiresAt: number | null;
  user: User | null;
  /** Message shown on the login page after the session ended unexpectedly. */
  notice: string | null;
}

export const initialSessionState: SessionState = {
  status: 'unknown',
  accessToken: null,
  expiresAt: null,
  user: null,
  notice: null,
};

export const sessionSlice = createSlice({
  name: 'session',
  initialState: initialSessionState,
  reducers: {
    credentialsReceived(state, action: PayloadAction<{ auth: AuthResponse; now?: number }>) {
      const { auth, now = Date.now() } = action.payload;
      state.status = 'authenticated';
      state.accessToken = auth.accessToken;
      state.expiresAt = now + auth.expiresIn * 1000;
      state.user = auth.user;
      state.notice = null;
    },
    userUpdated(state, action: PayloadAction<User>) {
      state.user = action.payload;
    },
    sessionEnded(state, action: PayloadAction<{ reason: SessionEndReason }>) {
      state.status = 'anonymous';
      state.accessToken = null;
      state.expiresAt = null;
      state.user = null;
      const { reason } = action.payload;
      state.notice =
        reason === 'revoked'
          ? 'Your session was ended (signed out from another device). Please sign in again.'
          : reason === 'expired'
            ? 'Your session has expired. Please sign in again.'
            : null;
    },
    noticeCleared(state) {
      state.notice = null;
    },
  },
});

export const { credentialsReceived, userUpdated, sessionEnded, noticeCleared } = sessionSlice.actions;

export interface WithSession {
  session: SessionState;
}
export const selectSession = (s: WithSession) => s.session;
export const selectAccessToken = (s: WithSession) => s.session.accessToken;
export const selectUser = (s: WithSession) => s.session.user;
