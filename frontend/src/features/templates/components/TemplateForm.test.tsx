import { http, HttpResponse } from 'msw';
import { screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';
import { authedState, renderWithProviders } from '@/testing/render';
import { API, server } from '@/testing/server';
import { TemplateForm } from './TemplateForm';

const template = {
  id: 't1',
  ownerId: 'u1',
  name: 'Trip',
  description: '',
  category: 'Travel',
  tags: [],
  visibility: 'private' as const,
  steps: [{ title: 'Book', notes: null, offsetDays: 0, timeOfDay: null, durationMinutes: null }],
  version: 4,
  createdAt: 'x',
  updatedAt: 'y',
};

describe('TemplateForm', () => {
  it('maps problem+json field errors (including step paths) onto the fields', async () => {
    server.use(
      http.get(`${API}/templates/categories`, () => HttpResponse.json({ categories: [] })),
      http.post(`${API}/templates`, () =>
        HttpResponse.json(
          {
            type: 'https://plangen.dev/problems/validation',
            title: 'Validation failed',
            status: 422,
            errors: [
              { field: 'name', message: 'name is reserved' },
              { field: 'steps[0].title', message: 'title contains a forbidden word' },
            ],
          },
          { status: 422, headers: { 'Content-Type': 'application/problem+json' } },
        ),
      ),
    );
    const user = userEvent.setup();
    renderWithProviders(<TemplateForm onSaved={() => {}} onCancel={() => {}} />, { preloadedState: authedState() });
    await user.type(screen.getByLabelText('Name'), 'admin');
    await user.type(screen.getByLabelText('Category'), 'Ops');
    await user.type(screen.getByLabelText('Step 1 title'), 'forbidden');
    await user.click(screen.getByRole('button', { name: 'Create template' }));
    expect(await screen.findByText('name is reserved')).toBeInTheDocument();
    expect(screen.getByLabelText('Name')).toHaveAccessibleDescription('name is reserved');
    expect(screen.getByLabelText('Step 1 title')).toHaveAccessibleDescription('title contains a forbidden word');
  });

  it('sends If-Match with the version and explains a 412', async () => {
    let ifMatch: string | null = null;
    server.use(
      http.get(`${API}/templates/categories`, () => HttpResponse.json({ categories: [] })),
      http.put(`${API}/templates/t1`, ({ request }) => {
        ifMatch = request.headers.get('If-Match');
        return HttpResponse.json({ title: 'Precondition Failed', status: 412 }, { status: 412 });
      }),
    );
    const onSaved = vi.fn();
    const user = userEvent.setup();
    renderWithProviders(<TemplateForm template={template} onSaved={onSaved} onCancel={() => {}} />, { preloadedState: authedState() });
    await user.click(screen.getByRole('button', { name: 'Save changes' }));
    await waitFor(() => expect(ifMatch).toBe('"4"'));
    expect(await screen.findByText('This template was changed elsewhere')).toBeInTheDocument();
    expect(onSaved).not.toHaveBeenCalled();
  });
});
