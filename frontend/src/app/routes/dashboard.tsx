import { ButtonLink } from '@/components/ui/Button';
import { PageHeader } from '@/components/ui/Card';
import { Dashboard } from '@/features/plans/components/Dashboard';
import { useAppSelector } from '@/lib/hooks';

export function Component() {
  const user = useAppSelector((s) => s.session.user);
  return (
    <>
      <title>Dashboard · Plangen</title>
      <PageHeader
        title={`Hello${user ? `, ${user.name || user.username}` : ''}`}
        description="What's due today and this week across your active plans."
        actions={
          <>
            <ButtonLink to="/templates">Use a template</ButtonLink>
            <ButtonLink to="/calendar" variant="secondary">
              Calendar
            </ButtonLink>
          </>
        }
      />
      <Dashboard />
    </>
  );
}
