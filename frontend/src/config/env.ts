import { z } from 'zod';

const EnvSchema = z.object({
  /** Origin of the gateway; '' means same origin as the SPA. */
  VITE_API_BASE_URL: z
    .string()
    .trim()
    .default('')
    .refine((v) => v === '' || /^https?:\/\/[^\s]+$/.test(v), 'must be empty or an http(s) URL')
    .transform((v) => v.replace(/\/+$/, '')),
  /** Request timeout in milliseconds. */
  VITE_API_TIMEOUT: z.coerce.number().int().min(100).max(300_000).default(10_000),
});

export type Env = z.infer<typeof EnvSchema>;

export function parseEnv(source: Record<string, unknown>): Env {
  const result = EnvSchema.safeParse(source);
  if (!result.success) {
    throw new Error(`Invalid environment configuration:\n${z.prettifyError(result.error)}`);
  }
  return result.data;
}

export const env: Env = parseEnv({
  VITE_API_BASE_URL: import.meta.env.VITE_API_BASE_URL || undefined,
  VITE_API_TIMEOUT: import.meta.env.VITE_API_TIMEOUT || undefined,
});

export const API_PREFIX = `${env.VITE_API_BASE_URL}/api/v1`;
