import { http, HttpResponse, delay } from 'msw';
import { act, screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { makePlan, problem } from '@/testing/factories';
import { authedState, renderWithProviders } from '@/testing/render';
import { API, server } from '@/testing/server';
import { PlanDetail } from './PlanDetail';

describe('PlanDetail check-off', () => {
  it('checks an item off optimistically and keeps it when the server agrees', async () => {
    let patched: unknown;
    server.use(
      http.get(`${API}/plans/p1`, () => HttpResponse.json(makePlan())),
      http.patch(`${API}/plans/p1/items/i1`, async ({ request }) => {
        patched = await request.json();
        await delay(50);
        const plan = makePlan({ version: 2 });
        return HttpResponse.json({ ...plan, items: plan.items.map((i) => (i.id === 'i1' ? { ...i, doneAt: '2026-03-27T09:00:00Z' } : i)) });
      }),
    );
    const user = userEvent.setup();
    renderWithProviders(<PlanDetail id="p1" />, { preloadedState: authedState() });
    const box = await screen.findByRole('checkbox', { name: 'Pack books' });
    expect(screen.getByRole('progressbar', { name: 'Plan progress' })).toHaveAttribute('aria-valuenow', '0');
    await user.click(box);
    expect(box).toBeChecked(); // before the server answered
    expect(screen.getByRole('progressbar', { name: 'Plan progress' })).toHaveAttribute('aria-valuenow', '50');
    await waitFor(() => expect(patched).toEqual({ done: true }));
    await act(async () => {
      await new Promise((r) => setTimeout(r, 80));
    });
    expect(screen.getByRole('checkbox', { name: 'Pack books' })).toBeChecked();
  });

  it('rolls the check-off back with a message when the server fails', async () => {
    server.use(
      http.get(`${API}/plans/p1`, () => HttpResponse.json(makePlan())),
      http.patch(`${API}/plans/p1/items/i2`, async () => {
        await delay(50);
        return HttpResponse.json(problem(500, 'internal', { title: 'Internal Server Error', detail: 'database unavailable' }), { status: 500 });
      }),
    );
    const user = userEvent.setup();
    renderWithProviders(<PlanDetail id="p1" />, { preloadedState: authedState() });
    const box = await screen.findByRole('checkbox', { name: 'Call movers' });
    await user.click(box);
    expect(box).toBeChecked();
    expect(await screen.findByTestId('toggle-error')).toHaveTextContent(/Couldn't check off “Call movers”: Internal Server Error: database unavailable/);
    await waitFor(() => expect(screen.getByRole('checkbox', { name: 'Call movers' })).not.toBeChecked());
    expect(screen.getByRole('progressbar', { name: 'Plan progress' })).toHaveAttribute('aria-valuenow', '0');
  });

  it('shows a skeleton while loading and an error with retry on failure', async () => {
    server.use(http.get(`${API}/plans/p1`, () => HttpResponse.json(problem(404, 'not-found', { title: 'Not Found', detail: 'no such plan' }), { status: 404 })));
    renderWithProviders(<PlanDetail id="p1" />, { preloadedState: authedState() });
    expect(screen.getByRole('status')).toHaveTextContent(/Loading/);
    expect(await screen.findByTestId('error-message')).toHaveTextContent('Not Found: no such plan');
    expect(screen.getByRole('button', { name: 'Try again' })).toBeEnabled();
  });
});
