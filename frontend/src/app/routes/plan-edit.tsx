import { useNavigate, useParams } from 'react-router';
import { ErrorAlert } from '@/components/ui/Alert';
import { PageHeader } from '@/components/ui/Card';
import { PageSkeleton } from '@/components/ui/Skeleton';
import { useGetPlanQuery } from '@/features/plans/api/plans';
import { PlanForm } from '@/features/plans/components/PlanForm';

export function Component() {
  const { id = '' } = useParams();
  const navigate = useNavigate();
  const { data, isLoading, error, refetch } = useGetPlanQuery(id, { refetchOnMountOrArgChange: true });
  if (isLoading) return <PageSkeleton />;
  if (error || !data) return <ErrorAlert error={error} onRetry={refetch} />;
  return (
    <>
      <title>Edit plan · Plangen</title>
      <PageHeader title={`Edit “${data.title}”`} />
      <PlanForm key={data.version} plan={data} onSaved={(p) => navigate(`/plans/${p.id}`)} onCancel={() => navigate(`/plans/${id}`)} />
    </>
  );
}
