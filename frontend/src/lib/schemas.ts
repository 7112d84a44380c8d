import { z } from 'zod';

/** Ids are opaque strings; numbers are accepted and stringified defensively. */
export const IdSchema = z.union([z.string(), z.number()]).transform(String);

export const UserSchema = z.object({
  id: IdSchema,
  email: z.string(),
  name: z.string().nullable().default(null),
  username: z.string(),
  avatar: z.string().nullable().default(null),
  bio: z.string().nullable().default(null),
  role: z.enum(['user', 'admin']).catch('user'),
  isActive: z.boolean().default(true),
  isEmailVerified: z.boolean().default(false),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type User = z.infer<typeof UserSchema>;

export const AuthResponseSchema = z.object({
  user: UserSchema,
  accessToken: z.string().min(1),
  refreshToken: z.string().optional(),
  tokenType: z.string().default('Bearer'),
  expiresIn: z.number().positive(),
});
export type AuthResponse = z.infer<typeof AuthResponseSchema>;

export function pageSchema<T extends z.ZodType>(item: T) {
  return z.object({ items: z.array(item), nextCursor: z.string().nullable().default(null) });
}
