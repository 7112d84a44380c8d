import { ButtonLink } from '@/components/ui/Button';
import { PageHeader } from '@/components/ui/Card';
import { PlansList } from '@/features/plans/components/PlansList';

export function Component() {
  return (
    <>
      <title>Plans · Plangen</title>
      <PageHeader
        title="Plans"
        description="Your dated checklists."
        actions={
          <>
            <ButtonLink to="/templates">From template</ButtonLink>
            <ButtonLink to="/plans/new" variant="secondary">
              Blank plan
            </ButtonLink>
          </>
        }
      />
      <PlansList />
    </>
  );
}
