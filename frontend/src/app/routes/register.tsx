import { Link, useNavigate } from 'react-router';
import { AuthCard } from '@/features/auth/components/AuthCard';
import { RegisterForm } from '@/features/auth/components/RegisterForm';

export function Component() {
  const navigate = useNavigate();
  return (
    <AuthCard
      title="Create your account"
      subtitle="Plan anything from reusable checklists."
      footer={
        <>
          Already have an account?{' '}
          <Link to="/login" className="font-medium text-indigo-700 underline-offset-2 hover:underline dark:text-indigo-300">
            Sign in
          </Link>
        </>
      }
    >
      <title>Create account · Plangen</title>
      <RegisterForm onSuccess={() => navigate('/', { replace: true })} />
    </AuthCard>
  );
}
