import { useParams } from 'react-router';
import { TemplateDetail } from '@/features/templates/components/TemplateDetail';

export function Component() {
  const { id = '' } = useParams();
  return (
    <>
      <title>Template · Plangen</title>
      <TemplateDetail id={id} />
    </>
  );
}
