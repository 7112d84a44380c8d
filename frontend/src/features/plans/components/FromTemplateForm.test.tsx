import { http, HttpResponse } from 'msw';
import { screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';
import { makePlan } from '@/testing/factories';
import { authedState, renderWithProviders } from '@/testing/render';
import { API, server } from '@/testing/server';
import { FromTemplateForm } from './FromTemplateForm';

const steps = [
  { title: 'Pack', offsetDays: 0, timeOfDay: null },
  { title: 'Drive', offsetDays: 1, timeOfDay: '09:00' },
  { title: 'Unpack', offsetDays: 2, timeOfDay: null },
];

describe('FromTemplateForm', () => {
  it('previews due dates in the chosen zone and creates the plan with an Idempotency-Key', async () => {
    let request: { body: unknown; key: string | null } | undefined;
    server.use(
      http.post(`${API}/plans/from-template`, async ({ request: r }) => {
        request = { body: await r.json(), key: r.headers.get('Idempotency-Key') };
        return HttpResponse.json(makePlan({ id: 'p9' }), { status: 201 });
      }),
    );
    const onCreated = vi.fn();
    const user = userEvent.setup();
    renderWithProviders(<FromTemplateForm templateId="t1" templateName="Moving" steps={steps} onCreated={onCreated} onCancel={() => {}} />, {
      preloadedState: authedState(),
    });
    const start = screen.getByLabelText('Start date');
    await user.clear(start);
    await user.type(start, '2026-03-27');
    const tz = screen.getByLabelText('Time zone');
    await user.clear(tz);
    await user.type(tz, 'Europe/Berlin');
    const dues = screen.getAllByTestId('preview-due').map((el) => el.getAttribute('datetime'));
    expect(dues).toEqual(['2026-03-27T08:00:00.000Z', '2026-03-28T08:00:00.000Z', '2026-03-29T07:00:00.000Z']);
    await user.click(screen.getByRole('button', { name: 'Create plan' }));
    await waitFor(() => expect(onCreated).toHaveBeenCalledWith(expect.objectContaining({ id: 'p9' })));
    expect(request?.body).toEqual({ templateId: 't1', startDate: '2026-03-27', timezone: 'Europe/Berlin', title: 'Moving' });
    expect(request?.key).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('shows API field errors next to the fields', async () => {
    server.use(
      http.post(`${API}/plans/from-template`, () =>
        HttpResponse.json({ title: 'Unprocessable', status: 422, errors: [{ field: 'startDate', message: 'start date out of range' }] }, { status: 422 }),
      ),
    );
    const user = userEvent.setup();
    renderWithProviders(<FromTemplateForm templateId="t1" templateName="Moving" steps={steps} onCreated={() => {}} onCancel={() => {}} />, {
      preloadedState: authedState(),
    });
    await user.click(screen.getByRole('button', { name: 'Create plan' }));
    expect(await screen.findByText('start date out of range')).toBeInTheDocument();
    expect(screen.getByLabelText('Start date')).toHaveAttribute('aria-invalid', 'true');
  });
});
