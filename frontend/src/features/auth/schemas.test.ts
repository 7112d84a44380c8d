import { describe, expect, it } from 'vitest';
import { ChangePasswordSchema, LoginSchema, ProfileSchema, RegisterSchema } from './schemas';

describe('auth schemas', () => {
  it('validates registration like the API', () => {
    const ok = RegisterSchema.safeParse({ email: 'a@b.co', username: 'ada.l-1_x', password: '12345678', name: '' });
    expect(ok.success && ok.data.name).toBeUndefined();
    expect(RegisterSchema.safeParse({ email: 'nope', username: 'ada', password: '12345678' }).success).toBe(false);
    expect(RegisterSchema.safeParse({ email: 'a@b.co', username: 'ab', password: '12345678' }).success).toBe(false);
    expect(RegisterSchema.safeParse({ email: 'a@b.co', username: 'a'.repeat(33), password: '12345678' }).success).toBe(false);
    expect(RegisterSchema.safeParse({ email: 'a@b.co', username: 'ada lovelace', password: '12345678' }).success).toBe(false);
    expect(RegisterSchema.safeParse({ email: 'a@b.co', username: 'ada', password: '1234567' }).success).toBe(false);
    expect(RegisterSchema.safeParse({ email: 'a@b.co', username: 'ada', password: 'x'.repeat(129) }).success).toBe(false);
  });

  it('requires both login fields', () => {
    expect(LoginSchema.safeParse({ login: ' ', password: 'x' }).success).toBe(false);
    expect(LoginSchema.safeParse({ login: 'ada', password: 'x' }).success).toBe(true);
  });

  it('normalises the profile: blanks become null, avatar must be http(s), bio ≤ 500', () => {
    expect(ProfileSchema.parse({ name: '', username: 'ada', avatar: '', bio: ' ' })).toEqual({ name: null, username: 'ada', avatar: null, bio: null });
    expect(ProfileSchema.safeParse({ name: null, username: 'ada', avatar: 'ftp://x/y.png', bio: null }).success).toBe(false);
    expect(ProfileSchema.safeParse({ name: null, username: 'ada', avatar: 'https://x.io/a.png', bio: 'b'.repeat(500) }).success).toBe(true);
    expect(ProfileSchema.safeParse({ name: null, username: 'ada', avatar: null, bio: 'b'.repeat(501) }).success).toBe(false);
  });

  it('checks the password confirmation', () => {
    const r = ChangePasswordSchema.safeParse({ currentPassword: 'old', newPassword: 'newpassword', confirmPassword: 'other' });
    expect(r.success).toBe(false);
    expect(r.error?.issues[0]?.path).toEqual(['confirmPassword']);
  });
});
