import { useNavigate, useParams } from 'react-router';
import { ErrorAlert } from '@/components/ui/Alert';
import { PageHeader } from '@/components/ui/Card';
import { PageSkeleton } from '@/components/ui/Skeleton';
import { useGetTemplateQuery } from '@/features/templates/api/templates';
import { TemplateForm } from '@/features/templates/components/TemplateForm';

export function Component() {
  const { id = '' } = useParams();
  const navigate = useNavigate();
  const { data, isLoading, error, refetch } = useGetTemplateQuery(id, { refetchOnMountOrArgChange: true });
  if (isLoading) return <PageSkeleton />;
  if (error || !data) return <ErrorAlert error={error} onRetry={refetch} />;
  return (
    <>
      <title>Edit template · Plangen</title>
      <PageHeader title={`Edit “${data.name}”`} />
      <TemplateForm key={data.version} template={data} onSaved={(t) => navigate(`/templates/${t.id}`)} onCancel={() => navigate(`/templates/${id}`)} />
    </>
  );
}
