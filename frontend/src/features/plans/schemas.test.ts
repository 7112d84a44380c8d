import { describe, expect, it } from 'vitest';
import { makePlan } from '@/testing/factories';
import { FromTemplateSchema, PlanInputSchema, PlanSchema, planToInput, progressOf } from './schemas';

describe('plan schemas', () => {
  it('parses a plan and computes progress', () => {
    const plan = PlanSchema.parse(makePlan({ items: [{ id: 'a', title: 'x', doneAt: '2026-01-01T00:00:00Z', position: 0 }, { id: 'b', title: 'y', position: 1 }] }));
    expect(progressOf(plan)).toEqual({ done: 1, total: 2 });
  });

  it('round-trips a plan into a valid PUT body', () => {
    const plan = PlanSchema.parse(makePlan());
    const body = PlanInputSchema.parse(planToInput(plan, { status: 'archived' }));
    expect(body.status).toBe('archived');
    expect(body.items.map((i) => i.title)).toEqual(['Pack books', 'Call movers']);
  });

  it('rejects bad dates, time zones and ranges', () => {
    const base = planToInput(PlanSchema.parse(makePlan()));
    expect(PlanInputSchema.safeParse({ ...base, startDate: '2026-02-30' }).success).toBe(false);
    expect(PlanInputSchema.safeParse({ ...base, timezone: 'Mars/Olympus' }).success).toBe(false);
    expect(PlanInputSchema.safeParse({ ...base, endDate: '2026-03-01' }).success).toBe(false);
    expect(PlanInputSchema.safeParse({ ...base, title: '' }).success).toBe(false);
    expect(FromTemplateSchema.safeParse({ templateId: 't', title: '', startDate: '2026-03-27', timezone: 'Europe/Berlin' }).data?.title).toBeNull();
  });
});
