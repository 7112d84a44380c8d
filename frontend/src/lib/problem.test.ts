import { describe, expect, it } from 'vitest';
import { apiFieldErrors, errorMessage, parseRetryAfter, problemToApiError, problemTypeIs } from './problem';

describe('problem+json mapping', () => {
  it('normalises a problem document with field errors', () => {
    const e = problemToApiError(409, {
      type: 'https://plangen.dev/problems/conflict',
      title: 'Conflict',
      status: 409,
      detail: 'email already registered',
      requestId: 'r1',
      errors: [
        { field: 'email', message: 'Email is already registered' },
        { field: 'email', message: 'second message ignored' },
      ],
    });
    expect(e.status).toBe(409);
    expect(problemTypeIs(e, 'conflict')).toBe(true);
    expect(e.fieldErrors).toEqual({ email: 'Email is already registered' });
    expect(e.requestId).toBe('r1');
  });

  it('maps API field paths onto form field names', () => {
    const e = problemToApiError(422, {
      errors: [
        { field: 'steps[1].title', message: 'too long' },
        { field: '/name', message: 'required' },
        { field: 'login', message: 'unknown user' },
      ],
    });
    expect(apiFieldErrors(e, { login: 'identifier' })).toEqual({ 'steps.1.title': 'too long', name: 'required', identifier: 'unknown user' });
  });

  it('tolerates non-problem bodies', () => {
    const e = problemToApiError(500, '<html>oops</html>');
    expect(e.title).toBe('The server had a problem');
    expect(e.fieldErrors).toEqual({});
  });

  it('explains 429 with the Retry-After delay', () => {
    expect(parseRetryAfter('30')).toBe(30);
    expect(parseRetryAfter(new Date(Date.now() + 120_000).toUTCString())).toBeGreaterThan(100);
    expect(errorMessage(problemToApiError(429, {}, 30))).toBe('Too many attempts. Try again in 30 seconds.');
    expect(errorMessage(problemToApiError(429, {}, 120))).toBe('Too many attempts. Try again in 2 minutes.');
  });

  it('describes network errors and stale writes', () => {
    expect(errorMessage({ status: 'NETWORK', type: '', title: 'x', fieldErrors: {} })).toMatch(/Cannot reach the server/);
    expect(errorMessage(problemToApiError(412, {}))).toMatch(/changed elsewhere/);
    expect(errorMessage(undefined)).toBe('');
  });
});
