import { http, HttpResponse } from 'msw';
import { screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';
import { makeAuth, problem } from '@/testing/factories';
import { renderWithProviders } from '@/testing/render';
import { API, server } from '@/testing/server';
import { LoginForm } from './LoginForm';
import { RegisterForm } from './RegisterForm';

describe('RegisterForm', () => {
  it('validates with zod before calling the API', async () => {
    const user = userEvent.setup();
    renderWithProviders(<RegisterForm onSuccess={() => {}} />);
    await user.type(screen.getByLabelText('Email'), 'not-an-email');
    await user.type(screen.getByLabelText('Username'), 'a!');
    await user.type(screen.getByLabelText('Password'), 'short');
    await user.click(screen.getByRole('button', { name: 'Create account' }));
    expect(screen.getByLabelText('Email')).toHaveAccessibleDescription('Enter a valid email address');
    expect(screen.getByLabelText('Username')).toHaveAttribute('aria-invalid', 'true');
    expect(screen.getByLabelText('Password')).toHaveAccessibleDescription('Password must be at least 8 characters');
  });

  it('puts the 409 problem field error next to the email field', async () => {
    server.use(
      http.post(`${API}/auth/register`, () =>
        HttpResponse.json(
          problem(409, 'conflict', { title: 'Conflict', errors: [{ field: 'email', message: 'This email is already registered' }] }),
          { status: 409, headers: { 'Content-Type': 'application/problem+json' } },
        ),
      ),
    );
    const user = userEvent.setup();
    const onSuccess = vi.fn();
    const { store } = renderWithProviders(<RegisterForm onSuccess={onSuccess} />);
    await user.type(screen.getByLabelText('Email'), 'ada@example.com');
    await user.type(screen.getByLabelText('Username'), 'ada');
    await user.type(screen.getByLabelText('Password'), 'correct horse');
    await user.click(screen.getByRole('button', { name: 'Create account' }));
    const email = screen.getByLabelText('Email');
    expect(await screen.findByText('This email is already registered')).toBeInTheDocument();
    expect(email).toHaveAttribute('aria-invalid', 'true');
    expect(email).toHaveAccessibleDescription('This email is already registered');
    expect(onSuccess).not.toHaveBeenCalled();
    expect(store.getState().session.accessToken).toBeNull();
  });

  it('signs in after registering', async () => {
    let body: unknown;
    server.use(
      http.post(`${API}/auth/register`, async ({ request }) => {
        body = await request.json();
        return HttpResponse.json(makeAuth('new-token'), { status: 201 });
      }),
    );
    const user = userEvent.setup();
    const onSuccess = vi.fn();
    const { store } = renderWithProviders(<RegisterForm onSuccess={onSuccess} />);
    await user.type(screen.getByLabelText('Email'), 'ada@example.com');
    await user.type(screen.getByLabelText('Username'), 'ada');
    await user.type(screen.getByLabelText('Password'), 'correct horse');
    await user.click(screen.getByRole('button', { name: 'Create account' }));
    await vi.waitFor(() => expect(onSuccess).toHaveBeenCalled());
    expect(body).toEqual({ email: 'ada@example.com', username: 'ada', password: 'correct horse' });
    expect(store.getState().session).toMatchObject({ status: 'authenticated', accessToken: 'new-token' });
  });
});

describe('LoginForm', () => {
  it('shows a wrong-password message on 401 invalid-credentials', async () => {
    server.use(http.post(`${API}/auth/login`, () => HttpResponse.json(problem(401, 'invalid-credentials'), { status: 401 })));
    let refreshCalls = 0;
    server.use(
      http.post(`${API}/auth/refresh`, () => {
        refreshCalls += 1;
        return new HttpResponse(null, { status: 401 });
      }),
    );
    const user = userEvent.setup();
    renderWithProviders(<LoginForm onSuccess={() => {}} />);
    await user.type(screen.getByLabelText('Email or username'), 'ada');
    await user.type(screen.getByLabelText('Password'), 'wrong-password');
    await user.click(screen.getByRole('button', { name: 'Sign in' }));
    expect(await screen.findByTestId('form-error')).toHaveTextContent('Wrong email/username or password.');
    expect(refreshCalls).toBe(0);
  });

  it('shows when to retry on 429', async () => {
    server.use(http.post(`${API}/auth/login`, () => HttpResponse.json(problem(429, 'too-many-requests'), { status: 429, headers: { 'Retry-After': '30' } })));
    const user = userEvent.setup();
    renderWithProviders(<LoginForm onSuccess={() => {}} />);
    await user.type(screen.getByLabelText('Email or username'), 'ada');
    await user.type(screen.getByLabelText('Password'), 'whatever1');
    await user.click(screen.getByRole('button', { name: 'Sign in' }));
    expect(await screen.findByTestId('error-message')).toHaveTextContent(/Try again in 30 seconds/);
  });
});
