import { describe, expect, it } from 'vitest';
import { StepInputSchema, TemplateInputSchema, TemplateSchema, parseTags } from './schemas';

const valid = {
  name: 'Trip',
  description: '',
  category: 'Travel',
  tags: 'packing, travel, packing',
  visibility: 'private',
  steps: [{ title: 'Book', notes: '', offsetDays: '-7', timeOfDay: '', durationMinutes: '' }],
};

describe('template schemas', () => {
  it('turns form strings into the API body', () => {
    const r = TemplateInputSchema.parse(valid);
    expect(r.tags).toEqual(['packing', 'travel']);
    expect(r.steps[0]).toEqual({ title: 'Book', notes: null, offsetDays: -7, timeOfDay: null, durationMinutes: null });
  });

  it('enforces the API limits', () => {
    const tooMany = { ...valid, tags: Array.from({ length: 21 }, (_, i) => `t${i}`).join(',') };
    expect(TemplateInputSchema.safeParse(tooMany).success).toBe(false);
    expect(TemplateInputSchema.safeParse({ ...valid, name: 'x'.repeat(201) }).success).toBe(false);
    expect(TemplateInputSchema.safeParse({ ...valid, category: '' }).success).toBe(false);
    expect(TemplateInputSchema.safeParse({ ...valid, tags: 'x'.repeat(33) }).success).toBe(false);
    expect(StepInputSchema.safeParse({ title: 'a', offsetDays: 3651 }).success).toBe(false);
    expect(StepInputSchema.safeParse({ title: 'a', offsetDays: 1.5 }).success).toBe(false);
    expect(StepInputSchema.safeParse({ title: 'a', offsetDays: 0, timeOfDay: '24:00' }).success).toBe(false);
    expect(StepInputSchema.safeParse({ title: 'a', offsetDays: 0, durationMinutes: 10081 }).success).toBe(false);
    expect(StepInputSchema.safeParse({ title: 'a', offsetDays: 0, durationMinutes: '0' }).success).toBe(false);
    expect(StepInputSchema.safeParse({ title: 'a', offsetDays: 0, timeOfDay: '23:59', durationMinutes: '10080', notes: 'n' }).success).toBe(true);
  });

  it('parses API templates with defaults for optional fields', () => {
    const t = TemplateSchema.parse({
      id: 7,
      ownerId: 'u1',
      name: 'T',
      description: null,
      category: 'c',
      visibility: 'public',
      steps: [{ title: 's', offsetDays: 0 }],
      version: 3,
      createdAt: 'x',
      updatedAt: 'y',
    });
    expect(t.id).toBe('7');
    expect(t.description).toBe('');
    expect(t.tags).toEqual([]);
    expect(t.steps[0]).toMatchObject({ notes: null, timeOfDay: null, durationMinutes: null });
  });

  it('parses comma-separated tags', () => {
    expect(parseTags(' a, ,b,a ')).toEqual(['a', 'b']);
  });
});
