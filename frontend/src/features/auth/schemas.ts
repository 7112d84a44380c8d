import { z } from 'zod';
import { IdSchema } from '@/lib/schemas';

export const USERNAME_RE = /^[a-zA-Z0-9_.-]+$/;

export const PasswordSchema = z
  .string()
  .min(8, 'Password must be at least 8 characters')
  .max(128, 'Password must be at most 128 characters');

export const UsernameSchema = z
  .string()
  .trim()
  .min(3, 'Username must be at least 3 characters')
  .max(32, 'Username must be at most 32 characters')
  .regex(USERNAME_RE, 'Use letters, digits, "_", "." or "-" only');

export const RegisterSchema = z.object({
  email: z.email('Enter a valid email address').trim(),
  username: UsernameSchema,
  name: z
    .string()
    .trim()
    .max(200, 'Name must be at most 200 characters')
    .optional()
    .transform((v) => (v ? v : undefined)),
  password: PasswordSchema,
});
export type RegisterInput = z.infer<typeof RegisterSchema>;

export const LoginSchema = z.object({
  login: z.string().trim().min(1, 'Enter your email or username'),
  password: z.string().min(1, 'Enter your password'),
});
export type LoginInput = z.infer<typeof LoginSchema>;

const emptyToNull = (v: unknown) => (typeof v === 'string' && v.trim() === '' ? null : v);

export const ProfileSchema = z.object({
  name: z.preprocess(emptyToNull, z.string().trim().max(200, 'Name must be at most 200 characters').nullable()),
  username: UsernameSchema,
  avatar: z.preprocess(
    emptyToNull,
    z
      .url({ protocol: /^https?$/, message: 'Avatar must be an http(s) URL' })
      .max(2048, 'URL is too long')
      .nullable(),
  ),
  bio: z.preprocess(emptyToNull, z.string().max(500, 'Bio must be at most 500 characters').nullable()),
});
export type ProfileInput = z.infer<typeof ProfileSchema>;

export const ChangePasswordSchema = z
  .object({
    currentPassword: z.string().min(1, 'Enter your current password'),
    newPassword: PasswordSchema,
    confirmPassword: z.string(),
  })
  .refine((v) => v.newPassword === v.confirmPassword, { path: ['confirmPassword'], message: 'Passwords do not match' });
export type ChangePasswordInput = z.infer<typeof ChangePasswordSchema>;

export const SessionSchema = z.object({
  id: IdSchema,
  createdAt: z.string(),
  lastUsedAt: z.string().nullable().default(null),
  userAgent: z.string().nullable().default(null),
  ip: z.string().nullable().default(null),
  current: z.boolean().default(false),
});
export type Session = z.infer<typeof SessionSchema>;
export const SessionsResponseSchema = z.object({ sessions: z.array(SessionSchema) });
