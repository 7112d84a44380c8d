import { z } from 'zod';
import { isDateString, isValidTimeZone } from '@/lib/dates';
import { IdSchema, pageSchema } from '@/lib/schemas';

export const LIMITS = { title: 200, description: 5000, notes: 2000, tags: 20, tag: 32, items: 500, duration: 10080 } as const;

export const STATUSES = ['draft', 'active', 'completed', 'archived'] as const;
export const PRIORITIES = ['low', 'medium', 'high'] as const;
export const StatusSchema = z.enum(STATUSES);
export const PrioritySchema = z.enum(PRIORITIES);
export type PlanStatus = z.infer<typeof StatusSchema>;
export type Priority = z.infer<typeof PrioritySchema>;

export const PlanItemSchema = z.object({
  id: IdSchema,
  title: z.string(),
  notes: z.string().nullable().default(null),
  dueAt: z.string().nullable().default(null),
  durationMinutes: z.number().int().nullable().default(null),
  doneAt: z.string().nullable().default(null),
  position: z.number().int().default(0),
});
export type PlanItem = z.infer<typeof PlanItemSchema>;

export const RecurrenceSchema = z.object({ rrule: z.string(), exdates: z.array(z.string()).default([]) });

export const PlanSchema = z.object({
  id: IdSchema,
  ownerId: IdSchema,
  title: z.string(),
  description: z.string().nullish().transform((v) => v ?? ''),
  status: StatusSchema,
  startDate: z.string(),
  endDate: z.string().nullable().default(null),
  timezone: z.string(),
  tags: z.array(z.string()).default([]),
  priority: PrioritySchema.catch('medium'),
  templateId: IdSchema.nullable().default(null),
  templateVersion: z.number().int().nullable().default(null),
  items: z.array(PlanItemSchema).default([]),
  recurrence: RecurrenceSchema.nullable().default(null),
  version: z.number().int(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type Plan = z.infer<typeof PlanSchema>;

export const PlanPageSchema = pageSchema(PlanSchema);
export type PlanPage = z.infer<typeof PlanPageSchema>;

export const ScheduleItemSchema = z.object({
  planId: IdSchema,
  planTitle: z.string(),
  itemId: IdSchema,
  title: z.string(),
  dueAt: z.string(),
  durationMinutes: z.number().int().nullable().default(null),
  done: z.boolean(),
});
export type ScheduleItem = z.infer<typeof ScheduleItemSchema>;
export const ScheduleSchema = z.object({ items: z.array(ScheduleItemSchema) });

// ---------- inputs ----------

const blankToNull = (v: unknown) => (v === undefined || (typeof v === 'string' && v.trim() === '') ? null : v);
const toNumber = (v: unknown) => (typeof v === 'string' && v.trim() !== '' && !Number.isNaN(Number(v)) ? Number(v) : v);

export const DateSchema = z.string().refine(isDateString, 'Enter a valid date');
export const TimeZoneSchema = z.string().trim().refine(isValidTimeZone, 'Choose a valid time zone');

export const PlanItemInputSchema = z.object({
  id: z.string().optional(),
  title: z.string().trim().min(1, 'Item title is required').max(LIMITS.title, `At most ${LIMITS.title} characters`),
  notes: z.preprocess(blankToNull, z.string().max(LIMITS.notes, `At most ${LIMITS.notes} characters`).nullable()),
  dueAt: z.preprocess(blankToNull, z.iso.datetime({ offset: true, message: 'Enter a valid date and time' }).nullable()),
  durationMinutes: z.preprocess(
    (v) => toNumber(blankToNull(v)),
    z.number({ error: 'Enter minutes' }).int('Whole minutes').min(1, 'At least 1 minute').max(LIMITS.duration, `At most ${LIMITS.duration} minutes`).nullable(),
  ),
  doneAt: z.string().nullable().optional(),
});
export type PlanItemInput = z.infer<typeof PlanItemInputSchema>;

export const TagsSchema = z
  .array(z.string().trim().min(1).max(LIMITS.tag, `Each tag at most ${LIMITS.tag} characters`))
  .max(LIMITS.tags, `At most ${LIMITS.tags} tags`);

export function parseTags(text: string): string[] {
  return [...new Set(text.split(',').map((t) => t.trim()).filter(Boolean))];
}

export const PlanInputSchema = z
  .object({
    title: z.string().trim().min(1, 'Title is required').max(LIMITS.title, `At most ${LIMITS.title} characters`),
    description: z.string().max(LIMITS.description, `At most ${LIMITS.description} characters`),
    status: StatusSchema,
    startDate: DateSchema,
    endDate: z.preprocess(blankToNull, DateSchema.nullable()),
    timezone: TimeZoneSchema,
    tags: z.preprocess((v) => (typeof v === 'string' ? parseTags(v) : v), TagsSchema),
    priority: PrioritySchema,
    items: z.array(PlanItemInputSchema).max(LIMITS.items, `At most ${LIMITS.items} items`),
    recurrence: RecurrenceSchema.nullable().optional(),
  })
  .refine((p) => !p.endDate || p.endDate >= p.startDate, { path: ['endDate'], message: 'End date must be on or after the start date' });
export type PlanInput = z.infer<typeof PlanInputSchema>;

export const FromTemplateSchema = z.object({
  templateId: z.string().min(1),
  title: z.preprocess(blankToNull, z.string().trim().max(LIMITS.title, `At most ${LIMITS.title} characters`).nullable()),
  startDate: DateSchema,
  timezone: TimeZoneSchema,
});
export type FromTemplateInput = z.infer<typeof FromTemplateSchema>;

export interface PlanListArgs {
  status?: PlanStatus;
  tag?: string;
  from?: string;
  to?: string;
  q?: string;
  sort?: string;
  limit?: number;
}

/** Body for PUT built from a loaded plan (optionally overriding fields). */
export function planToInput(plan: Plan, overrides: Partial<PlanInput> = {}): PlanInput {
  return {
    title: plan.title,
    description: plan.description,
    status: plan.status,
    startDate: plan.startDate,
    endDate: plan.endDate,
    timezone: plan.timezone,
    tags: plan.tags,
    priority: plan.priority,
    items: [...plan.items]
      .sort((a, b) => a.position - b.position)
      .map((i) => ({ id: i.id, title: i.title, notes: i.notes, dueAt: i.dueAt, durationMinutes: i.durationMinutes, doneAt: i.doneAt })),
    recurrence: plan.recurrence,
    ...overrides,
  };
}

export function progressOf(plan: Pick<Plan, 'items'>): { done: number; total: number } {
  return { done: plan.items.filter((i) => i.doneAt).length, total: plan.items.length };
}
