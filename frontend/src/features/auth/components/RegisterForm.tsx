import { useRef, useState, type FormEvent } from 'react';
import { Button } from '@/components/ui/Button';
import { ErrorAlert } from '@/components/ui/Alert';
import { TextField } from '@/components/ui/Field';
import { focusFirstInvalid, validate, type FieldErrors } from '@/lib/form';
import { apiFieldErrors, toApiError } from '@/lib/problem';
import { useRegisterMutation } from '../api/auth';
import { RegisterSchema } from '../schemas';

export function RegisterForm({ onSuccess }: { onSuccess: () => void }) {
  const [values, setValues] = useState({ email: '', username: '', name: '', password: '' });
  const [errors, setErrors] = useState<FieldErrors>({});
  const [register, { isLoading, error, reset }] = useRegisterMutation();
  const formRef = useRef<HTMLFormElement>(null);

  const set = (key: keyof typeof values) => (e: React.ChangeEvent<HTMLInputElement>) => setValues((s) => ({ ...s, [key]: e.target.value }));

  async function onSubmit(e: FormEvent) {
    e.preventDefault();
    reset();
    const v = validate(RegisterSchema, values);
    if (!v.ok) {
      setErrors(v.errors);
      focusFirstInvalid(formRef.current);
      return;
    }
    setErrors({});
    try {
      await register(v.data).unwrap();
      onSuccess();
    } catch (err) {
      setErrors(apiFieldErrors(err));
      focusFirstInvalid(formRef.current);
    }
  }

  const apiError = toApiError(error);
  const hasFieldErrors = apiError && Object.keys(apiError.fieldErrors).length > 0;

  return (
    <form ref={formRef} onSubmit={onSubmit} noValidate className="space-y-4" aria-label="Create account">
      {apiError && !hasFieldErrors && <ErrorAlert error={apiError} />}
      {apiError && hasFieldErrors && (
        <p role="alert" className="text-sm font-medium text-red-700 dark:text-red-400">
          Please fix the highlighted fields.
        </p>
      )}
      <TextField label="Email" name="email" type="email" autoComplete="email" value={values.email} onChange={set('email')} error={errors.email} required />
      <TextField
        label="Username"
        name="username"
        autoComplete="username"
        value={values.username}
        onChange={set('username')}
        error={errors.username}
        hint="3–32 characters: letters, digits, _ . -"
        required
      />
      <TextField label="Name (optional)" name="name" autoComplete="name" value={values.name} onChange={set('name')} error={errors.name} />
      <TextField
        label="Password"
        name="password"
        type="password"
        autoComplete="new-password"
        value={values.password}
        onChange={set('password')}
        error={errors.password}
        hint="8–128 characters"
        required
      />
      <Button type="submit" className="w-full" loading={isLoading}>
        Create account
      </Button>
    </form>
  );
}
