import { useParams } from 'react-router';
import { PlanDetail } from '@/features/plans/components/PlanDetail';

export function Component() {
  const { id = '' } = useParams();
  return (
    <>
      <title>Plan · Plangen</title>
      <PlanDetail id={id} />
    </>
  );
}
