import { ButtonLink } from '@/components/ui/Button';
import { EmptyState } from '@/components/ui/EmptyState';

export function Component() {
  return (
    <>
      <title>Not found · Plangen</title>
      <h1 className="sr-only">Page not found</h1>
      <EmptyState title="This page does not exist" action={<ButtonLink to="/">Go to dashboard</ButtonLink>} />
    </>
  );
}
