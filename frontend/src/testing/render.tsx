import type { ReactElement, ReactNode } from 'react';
import { render, type RenderOptions } from '@testing-library/react';
import { Provider } from 'react-redux';
import { MemoryRouter } from 'react-router';
import { makeStore, type AppStore, type RootState } from '@/app/store';
import { initialSessionState } from '@/lib/session';
import { makeAuth } from './factories';

interface Options extends Omit<RenderOptions, 'wrapper'> {
  preloadedState?: Partial<RootState>;
  store?: AppStore;
  route?: string;
}

/** A signed-in session state for preloading. */
export function authedState(accessToken = 'access-1'): Partial<RootState> {
  const auth = makeAuth(accessToken);
  return {
    session: { ...initialSessionState, status: 'authenticated', accessToken, expiresAt: Date.now() + 900_000, user: auth.user },
  };
}

export function renderWithProviders(ui: ReactElement, { preloadedState, store = makeStore(preloadedState), route = '/', ...options }: Options = {}) {
  function Wrapper({ children }: { children: ReactNode }) {
    return (
      <Provider store={store}>
        <MemoryRouter initialEntries={[route]}>{children}</MemoryRouter>
      </Provider>
    );
  }
  return { store, ...render(ui, { wrapper: Wrapper, ...options }) };
}
