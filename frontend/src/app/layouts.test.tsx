import { http, HttpResponse } from 'msw';
import { screen } from '@testing-library/react';
import { render } from '@testing-library/react';
import { Provider } from 'react-redux';
import { createMemoryRouter, RouterProvider } from 'react-router';
import { describe, expect, it } from 'vitest';
import { problem } from '@/testing/factories';
import { authedState } from '@/testing/render';
import { API, server } from '@/testing/server';
import { routes } from './router';
import { makeStore } from './store';

function renderApp(path: string, store = makeStore(authedState('stale'))) {
  const router = createMemoryRouter(routes, { initialEntries: [path] });
  render(
    <Provider store={store}>
      <RouterProvider router={router} />
    </Provider>,
  );
  return { router, store };
}

describe('app routes', () => {
  it('sends a revoked session back to the login page with a message', async () => {
    server.use(
      http.get(`${API}/plans/schedule`, () => HttpResponse.json(problem(401, 'session-revoked'), { status: 401 })),
      http.get(`${API}/plans`, () => HttpResponse.json(problem(401, 'session-revoked'), { status: 401 })),
      http.post(`${API}/auth/refresh`, () => HttpResponse.json(problem(401, 'invalid-token'), { status: 401 })),
    );
    const { router } = renderApp('/');
    expect(await screen.findByTestId('session-notice')).toHaveTextContent(/signed out from another device/);
    expect(router.state.location.pathname).toBe('/login');
    expect(screen.getByRole('heading', { name: 'Sign in' })).toBeInTheDocument();
  });

  it('redirects anonymous visitors to /login and keeps where they wanted to go', async () => {
    const store = makeStore({ session: { status: 'anonymous', accessToken: null, expiresAt: null, user: null, notice: null } });
    const { router } = renderApp('/plans?status=active', store);
    await screen.findByRole('heading', { name: 'Sign in' });
    expect(router.state.location.pathname).toBe('/login');
    expect(router.state.location.search).toBe(`?next=${encodeURIComponent('/plans?status=active')}`);
  });

  it('renders the dashboard with the nav bar for a signed-in user', async () => {
    server.use(
      http.get(`${API}/plans/schedule`, () => HttpResponse.json({ items: [] })),
      http.get(`${API}/plans`, () => HttpResponse.json({ items: [], nextCursor: null })),
    );
    renderApp('/');
    expect(await screen.findByRole('heading', { name: 'Hello, Ada' })).toBeInTheDocument();
    expect(screen.getAllByRole('navigation', { name: 'Main' })[0]).toBeInTheDocument();
    expect(await screen.findByText('Nothing due today.')).toBeInTheDocument();
    expect(await screen.findByText('No active plans')).toBeInTheDocument();
  });
});
