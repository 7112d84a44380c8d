import { ButtonLink } from '@/components/ui/Button';
import { PageHeader } from '@/components/ui/Card';
import { TemplateGallery } from '@/features/templates/components/TemplateGallery';

export function Component() {
  return (
    <>
      <title>Templates · Plangen</title>
      <PageHeader
        title="Templates"
        description="Reusable checklists. Pick one and turn it into a dated plan."
        actions={
          <ButtonLink to="/templates/new" data-testid="new-template">
            New template
          </ButtonLink>
        }
      />
      <TemplateGallery />
    </>
  );
}
