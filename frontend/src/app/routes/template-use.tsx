import { useNavigate, useParams } from 'react-router';
import { ErrorAlert } from '@/components/ui/Alert';
import { PageHeader } from '@/components/ui/Card';
import { PageSkeleton } from '@/components/ui/Skeleton';
import { FromTemplateForm } from '@/features/plans/components/FromTemplateForm';
import { useGetTemplateQuery } from '@/features/templates/api/templates';

/** Composes the templates feature (data) with the plans feature (creation) — features never import each other. */
export function Component() {
  const { id = '' } = useParams();
  const navigate = useNavigate();
  const { data, isLoading, error, refetch } = useGetTemplateQuery(id);
  if (isLoading) return <PageSkeleton />;
  if (error || !data) return <ErrorAlert error={error} onRetry={refetch} />;
  return (
    <>
      <title>Use template · Plangen</title>
      <PageHeader title={`Use “${data.name}”`} description="Choose when the plan starts. Due dates are computed in the plan's time zone." />
      <FromTemplateForm
        templateId={data.id}
        templateName={data.name}
        steps={data.steps}
        onCreated={(plan) => navigate(`/plans/${plan.id}`)}
        onCancel={() => navigate(`/templates/${id}`)}
      />
    </>
  );
}
