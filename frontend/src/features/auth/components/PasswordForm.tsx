import { useRef, useState, type FormEvent } from 'react';
import { Alert, ErrorAlert } from '@/components/ui/Alert';
import { Button } from '@/components/ui/Button';
import { TextField } from '@/components/ui/Field';
import { focusFirstInvalid, validate, type FieldErrors } from '@/lib/form';
import { apiFieldErrors, toApiError } from '@/lib/problem';
import { useChangePasswordMutation } from '../api/auth';
import { ChangePasswordSchema } from '../schemas';

const empty = { currentPassword: '', newPassword: '', confirmPassword: '' };

export function PasswordForm() {
  const [values, setValues] = useState(empty);
  const [errors, setErrors] = useState<FieldErrors>({});
  const [done, setDone] = useState(false);
  const [changePassword, { isLoading, error, reset }] = useChangePasswordMutation();
  const formRef = useRef<HTMLFormElement>(null);

  const set = (key: keyof typeof values) => (e: React.ChangeEvent<HTMLInputElement>) => setValues((s) => ({ ...s, [key]: e.target.value }));

  async function onSubmit(e: FormEvent) {
    e.preventDefault();
    reset();
    setDone(false);
    const v = validate(ChangePasswordSchema, values);
    if (!v.ok) {
      setErrors(v.errors);
      focusFirstInvalid(formRef.current);
      return;
    }
    setErrors({});
    try {
      await changePassword({ currentPassword: v.data.currentPassword, newPassword: v.data.newPassword }).unwrap();
      setValues(empty);
      setDone(true);
    } catch (err) {
      const fields = apiFieldErrors(err);
      const apiErr = toApiError(err);
      if (apiErr?.type.endsWith('/invalid-credentials') && !fields.currentPassword) fields.currentPassword = 'Current password is wrong';
      setErrors(fields);
      focusFirstInvalid(formRef.current);
    }
  }

  const apiError = toApiError(error);
  const showBanner = apiError && Object.keys(apiError.fieldErrors).length === 0 && !apiError.type.endsWith('/invalid-credentials');

  return (
    <form ref={formRef} onSubmit={onSubmit} noValidate className="space-y-4" aria-labelledby="password-heading">
      <h2 id="password-heading" className="text-lg font-semibold">
        Change password
      </h2>
      {showBanner && <ErrorAlert error={apiError} />}
      {done && <Alert tone="success">Password changed.</Alert>}
      <TextField label="Current password" type="password" autoComplete="current-password" value={values.currentPassword} onChange={set('currentPassword')} error={errors.currentPassword} />
      <TextField label="New password" type="password" autoComplete="new-password" value={values.newPassword} onChange={set('newPassword')} error={errors.newPassword} hint="8–128 characters" />
      <TextField label="Confirm new password" type="password" autoComplete="new-password" value={values.confirmPassword} onChange={set('confirmPassword')} error={errors.confirmPassword} />
      <Button type="submit" loading={isLoading}>
        Change password
      </Button>
    </form>
  );
}
