import { useRef, useState, type FormEvent } from 'react';
import { Button } from '@/components/ui/Button';
import { ErrorAlert } from '@/components/ui/Alert';
import { TextField } from '@/components/ui/Field';
import { focusFirstInvalid, validate, type FieldErrors } from '@/lib/form';
import { apiFieldErrors, problemTypeIs, toApiError } from '@/lib/problem';
import { useLoginMutation } from '../api/auth';
import { LoginSchema } from '../schemas';

export function LoginForm({ onSuccess }: { onSuccess: () => void }) {
  const [values, setValues] = useState({ login: '', password: '' });
  const [errors, setErrors] = useState<FieldErrors>({});
  const [login, { isLoading, error, reset }] = useLoginMutation();
  const formRef = useRef<HTMLFormElement>(null);

  async function onSubmit(e: FormEvent) {
    e.preventDefault();
    reset();
    const v = validate(LoginSchema, values);
    if (!v.ok) {
      setErrors(v.errors);
      focusFirstInvalid(formRef.current);
      return;
    }
    setErrors({});
    try {
      await login(v.data).unwrap();
      onSuccess();
    } catch (err) {
      setErrors(apiFieldErrors(err, { email: 'login', username: 'login' }));
      focusFirstInvalid(formRef.current);
    }
  }

  const apiError = toApiError(error);
  const invalidCredentials = problemTypeIs(apiError, 'invalid-credentials') || apiError?.status === 401;

  return (
    <form ref={formRef} onSubmit={onSubmit} noValidate className="space-y-4" aria-label="Sign in">
      {apiError &&
        (invalidCredentials ? (
          <div role="alert" data-testid="form-error" className="rounded-lg border border-red-300 bg-red-50 px-4 py-3 text-sm text-red-900 dark:border-red-800 dark:bg-red-950 dark:text-red-100">
            Wrong email/username or password.
          </div>
        ) : apiError.status === 403 ? (
          <div role="alert" data-testid="form-error" className="rounded-lg border border-red-300 bg-red-50 px-4 py-3 text-sm text-red-900 dark:border-red-800 dark:bg-red-950 dark:text-red-100">
            This account is deactivated. {apiError.detail}
          </div>
        ) : (
          <ErrorAlert error={apiError} />
        ))}
      <TextField
        label="Email or username"
        name="login"
        autoComplete="username"
        value={values.login}
        onChange={(e) => setValues((s) => ({ ...s, login: e.target.value }))}
        error={errors.login}
        required
      />
      <TextField
        label="Password"
        name="password"
        type="password"
        autoComplete="current-password"
        value={values.password}
        onChange={(e) => setValues((s) => ({ ...s, password: e.target.value }))}
        error={errors.password}
        required
      />
      <Button type="submit" className="w-full" loading={isLoading}>
        Sign in
      </Button>
    </form>
  );
}
