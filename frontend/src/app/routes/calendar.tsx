import { PageHeader } from '@/components/ui/Card';
import { CalendarView } from '@/features/plans/components/CalendarView';

export function Component() {
  return (
    <>
      <title>Calendar · Plangen</title>
      <PageHeader title="Calendar" description="Scheduled items across all your plans." />
      <CalendarView />
    </>
  );
}
