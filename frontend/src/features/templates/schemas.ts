import { z } from 'zod';
import { IdSchema, pageSchema } from '@/lib/schemas';

export const LIMITS = {
  name: 200,
  description: 5000,
  category: 64,
  tags: 20,
  tag: 32,
  steps: 500,
  stepTitle: 200,
  notes: 2000,
  offset: 3650,
  duration: 10080,
} as const;

export const TIME_OF_DAY_RE = /^([01]\d|2[0-3]):[0-5]\d$/;

export const StepSchema = z.object({
  title: z.string(),
  notes: z.string().nullable().default(null),
  offsetDays: z.number().int(),
  timeOfDay: z.string().nullable().default(null),
  durationMinutes: z.number().int().nullable().default(null),
});
export type Step = z.infer<typeof StepSchema>;

export const VisibilitySchema = z.enum(['private', 'public']);
export type Visibility = z.infer<typeof VisibilitySchema>;

export const TemplateSchema = z.object({
  id: IdSchema,
  ownerId: IdSchema,
  name: z.string(),
  description: z.string().nullish().transform((v) => v ?? ''),
  category: z.string(),
  tags: z.array(z.string()).default([]),
  visibility: VisibilitySchema,
  steps: z.array(StepSchema).default([]),
  version: z.number().int(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type Template = z.infer<typeof TemplateSchema>;

export const TemplatePageSchema = pageSchema(TemplateSchema);
export type TemplatePage = z.infer<typeof TemplatePageSchema>;

export const CategoriesSchema = z.object({ categories: z.array(z.object({ name: z.string(), count: z.number() })) });
export type Category = z.infer<typeof CategoriesSchema>['categories'][number];

// ---------- form input (same limits as the API) ----------

const blankToNull = (v: unknown) => (v === undefined || (typeof v === 'string' && v.trim() === '') ? null : v);
const toNumber = (v: unknown) => (typeof v === 'string' && v.trim() !== '' && !Number.isNaN(Number(v)) ? Number(v) : v);

export const StepInputSchema = z.object({
  title: z.string().trim().min(1, 'Step title is required').max(LIMITS.stepTitle, `At most ${LIMITS.stepTitle} characters`),
  notes: z.preprocess(blankToNull, z.string().max(LIMITS.notes, `Notes must be at most ${LIMITS.notes} characters`).nullable()),
  offsetDays: z.preprocess(
    toNumber,
    z
      .number({ error: 'Enter a whole number of days' })
      .int('Enter a whole number of days')
      .min(-LIMITS.offset, `Between −${LIMITS.offset} and ${LIMITS.offset}`)
      .max(LIMITS.offset, `Between −${LIMITS.offset} and ${LIMITS.offset}`),
  ),
  timeOfDay: z.preprocess(blankToNull, z.string().regex(TIME_OF_DAY_RE, 'Use HH:MM (24h)').nullable()),
  durationMinutes: z.preprocess(
    (v) => toNumber(blankToNull(v)),
    z
      .number({ error: 'Enter minutes' })
      .int('Whole minutes')
      .min(1, 'At least 1 minute')
      .max(LIMITS.duration, `At most ${LIMITS.duration} minutes (7 days)`)
      .nullable(),
  ),
});
export type StepInput = z.infer<typeof StepInputSchema>;

export const TagsSchema = z
  .array(z.string().trim().min(1).max(LIMITS.tag, `Each tag at most ${LIMITS.tag} characters`))
  .max(LIMITS.tags, `At most ${LIMITS.tags} tags`);

/** "a, b ,c" → ['a','b','c'] (deduplicated, blanks dropped). */
export function parseTags(text: string): string[] {
  return [...new Set(text.split(',').map((t) => t.trim()).filter(Boolean))];
}

export const TemplateInputSchema = z.object({
  name: z.string().trim().min(1, 'Name is required').max(LIMITS.name, `At most ${LIMITS.name} characters`),
  description: z.string().max(LIMITS.description, `At most ${LIMITS.description} characters`),
  category: z.string().trim().min(1, 'Category is required').max(LIMITS.category, `At most ${LIMITS.category} characters`),
  tags: z.preprocess((v) => (typeof v === 'string' ? parseTags(v) : v), TagsSchema),
  visibility: VisibilitySchema,
  steps: z.array(StepInputSchema).max(LIMITS.steps, `At most ${LIMITS.steps} steps`),
});
export type TemplateInput = z.infer<typeof TemplateInputSchema>;

export const SORTS = [
  { value: '-updatedAt', label: 'Recently updated' },
  { value: '-createdAt', label: 'Newest' },
  { value: 'createdAt', label: 'Oldest' },
  { value: 'name', label: 'Name A–Z' },
  { value: '-name', label: 'Name Z–A' },
] as const;

export interface TemplateListArgs {
  q?: string;
  category?: string;
  tag?: string;
  visibility?: Visibility;
  owner?: 'me';
  sort?: string;
  limit?: number;
}
