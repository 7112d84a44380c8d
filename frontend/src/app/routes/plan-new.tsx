import { useNavigate } from 'react-router';
import { PageHeader } from '@/components/ui/Card';
import { PlanForm } from '@/features/plans/components/PlanForm';

export function Component() {
  const navigate = useNavigate();
  return (
    <>
      <title>New plan · Plangen</title>
      <PageHeader title="New plan" />
      <PlanForm onSaved={(p) => navigate(`/plans/${p.id}`)} onCancel={() => navigate('/plans')} />
    </>
  );
}
