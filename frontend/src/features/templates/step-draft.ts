import { localKey } from '@/lib/array';
import type { Step } from './schemas';

export interface StepDraft {
  key: string;
  title: string;
  notes: string;
  offsetDays: string;
  timeOfDay: string;
  durationMinutes: string;
}

export function stepToDraft(s: Step): StepDraft {
  return {
    key: localKey('step'),
    title: s.title,
    notes: s.notes ?? '',
    offsetDays: String(s.offsetDays),
    timeOfDay: s.timeOfDay ?? '',
    durationMinutes: s.durationMinutes === null ? '' : String(s.durationMinutes),
  };
}

export function emptyStep(offsetDays = 0): StepDraft {
  return { key: localKey('step'), title: '', notes: '', offsetDays: String(offsetDays), timeOfDay: '', durationMinutes: '' };
}

/** Strips the client-only key so the draft can be validated with StepInputSchema. */
export function draftToInput({ key: _key, ...rest }: StepDraft) {
  return rest;
}

