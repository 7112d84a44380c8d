import { useNavigate } from 'react-router';
import { PageHeader } from '@/components/ui/Card';
import { TemplateForm } from '@/features/templates/components/TemplateForm';

export function Component() {
  const navigate = useNavigate();
  return (
    <>
      <title>New template · Plangen</title>
      <PageHeader title="New template" description="Steps are scheduled relative to the plan's start date." />
      <TemplateForm onSaved={(t) => navigate(`/templates/${t.id}`)} onCancel={() => navigate('/templates')} />
    </>
  );
}
