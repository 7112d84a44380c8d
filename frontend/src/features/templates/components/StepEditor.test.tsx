import { useState } from 'react';
import { render, screen, within, fireEvent } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { stepToDraft, type StepDraft } from '../step-draft';
import { StepEditor } from './StepEditor';

function Harness({ initial }: { initial: StepDraft[] }) {
  const [steps, setSteps] = useState(initial);
  return <StepEditor steps={steps} onChange={setSteps} errors={{ 'steps.0.title': 'Too long' }} />;
}

const titles = () => screen.getAllByTestId('step-title').map((el) => (el as HTMLInputElement).value);
const initial = ['Book flights', 'Pack', 'Leave'].map((title, i) => stepToDraft({ title, notes: null, offsetDays: i, timeOfDay: null, durationMinutes: null }));

describe('StepEditor', () => {
  it('adds a step with the next day offset', async () => {
    const user = userEvent.setup();
    render(<Harness initial={initial} />);
    await user.click(screen.getByRole('button', { name: /add step/i }));
    expect(screen.getAllByTestId('step-row')).toHaveLength(4);
    expect((screen.getAllByTestId('step-offset')[3] as HTMLInputElement).value).toBe('3');
    await user.type(screen.getByLabelText('Step 4 title'), 'Return');
    expect(titles()).toEqual(['Book flights', 'Pack', 'Leave', 'Return']);
    expect(screen.getByRole('status')).toHaveTextContent('Added step 4.');
  });

  it('removes a step', async () => {
    const user = userEvent.setup();
    render(<Harness initial={initial} />);
    await user.click(screen.getByRole('button', { name: 'Remove Pack' }));
    expect(titles()).toEqual(['Book flights', 'Leave']);
  });

  it('reorders with keyboard-operable buttons and announces it', async () => {
    const user = userEvent.setup();
    render(<Harness initial={initial} />);
    expect(screen.getByRole('button', { name: 'Move Book flights up' })).toBeDisabled();
    screen.getByRole('button', { name: 'Move Book flights down' }).focus();
    await user.keyboard('{Enter}');
    expect(titles()).toEqual(['Pack', 'Book flights', 'Leave']);
    expect(screen.getByRole('status')).toHaveTextContent('Moved “Book flights” to position 2 of 3.');
    await user.click(screen.getByRole('button', { name: 'Move Leave up' }));
    expect(titles()).toEqual(['Pack', 'Leave', 'Book flights']);
  });

  it('reorders by drag and drop', () => {
    render(<Harness initial={initial} />);
    const rows = screen.getAllByTestId('step-row');
    const handle = within(rows[2] as HTMLElement).getByTitle('Drag to reorder');
    const dataTransfer = { setData: () => {}, effectAllowed: '', dropEffect: '' };
    fireEvent.dragStart(handle, { dataTransfer });
    fireEvent.dragOver(rows[0] as HTMLElement, { dataTransfer });
    fireEvent.drop(rows[0] as HTMLElement, { dataTransfer });
    expect(titles()).toEqual(['Leave', 'Book flights', 'Pack']);
  });

  it('shows field errors next to the step fields', () => {
    render(<Harness initial={initial} />);
    const input = screen.getByLabelText('Step 1 title');
    expect(input).toHaveAttribute('aria-invalid', 'true');
    expect(input).toHaveAccessibleDescription('Too long');
  });
});
