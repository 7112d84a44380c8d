import type { AuthResponse, User } from '@/lib/schemas';

export function makeUser(overrides: Partial<User> = {}): User {
  return {
    id: 'u1',
    email: 'ada@example.com',
    name: 'Ada',
    username: 'ada',
    avatar: null,
    bio: null,
    role: 'user',
    isActive: true,
    isEmailVerified: false,
    createdAt: '2026-01-01T00:00:00Z',
    updatedAt: '2026-01-01T00:00:00Z',
    ...overrides,
  };
}

export function makeAuth(accessToken = 'access-1', user: User = makeUser()): AuthResponse {
  return { user, accessToken, refreshToken: 'refresh-1', tokenType: 'Bearer', expiresIn: 900 };
}

export function problem(status: number, type: string, extra: Record<string, unknown> = {}) {
  return {
    type: `https://plangen.dev/problems/${type}`,
    title: type.replace(/-/g, ' '),
    status,
    detail: `${type} detail`,
    requestId: 'req-1',
    ...extra,
  };
}

export function makePlan(overrides: Record<string, unknown> = {}) {
  return {
    id: 'p1',
    ownerId: 'u1',
    title: 'Move house',
    description: '',
    status: 'active',
    startDate: '2026-03-27',
    endDate: null,
    timezone: 'Europe/Berlin',
    tags: [],
    priority: 'medium',
    templateId: null,
    templateVersion: null,
    items: [
      { id: 'i1', title: 'Pack books', notes: null, dueAt: '2026-03-27T08:00:00Z', durationMinutes: null, doneAt: null, position: 0 },
      { id: 'i2', title: 'Call movers', notes: null, dueAt: '2026-03-28T08:00:00Z', durationMinutes: 30, doneAt: null, position: 1 },
    ],
    recurrence: null,
    version: 1,
    createdAt: '2026-03-01T00:00:00Z',
    updatedAt: '2026-03-01T00:00:00Z',
    ...overrides,
  };
}
