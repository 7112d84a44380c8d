import { Badge } from '@/components/ui/Badge';
import type { PlanStatus, Priority } from '../schemas';

const statusTone = { draft: 'neutral', active: 'sky', completed: 'green', archived: 'amber' } as const;
const priorityTone = { low: 'neutral', medium: 'indigo', high: 'red' } as const;

export function StatusBadge({ status }: { status: PlanStatus }) {
  return <Badge tone={statusTone[status]}>{status[0]?.toUpperCase() + status.slice(1)}</Badge>;
}

export function PriorityBadge({ priority }: { priority: Priority }) {
  return <Badge tone={priorityTone[priority]}>{priority} priority</Badge>;
}
