import { Link, useNavigate, useSearchParams } from 'react-router';
import { Alert } from '@/components/ui/Alert';
import { AuthCard } from '@/features/auth/components/AuthCard';
import { LoginForm } from '@/features/auth/components/LoginForm';
import { useAppSelector } from '@/lib/hooks';

export function Component() {
  const notice = useAppSelector((s) => s.session.notice);
  const [params] = useSearchParams();
  const navigate = useNavigate();
  const next = params.get('next');
  return (
    <AuthCard
      title="Sign in"
      subtitle="Welcome back to Plangen."
      footer={
        <>
          New here?{' '}
          <Link to={`/register${next ? `?next=${encodeURIComponent(next)}` : ''}`} className="font-medium text-indigo-700 underline-offset-2 hover:underline dark:text-indigo-300">
            Create an account
          </Link>
        </>
      }
    >
      <title>Sign in · Plangen</title>
      {notice && (
        <Alert tone="warning" className="mb-4">
          <span data-testid="session-notice">{notice}</span>
        </Alert>
      )}
      <LoginForm onSuccess={() => navigate(next && next.startsWith('/') && !next.startsWith('//') ? next : '/', { replace: true })} />
    </AuthCard>
  );
}
