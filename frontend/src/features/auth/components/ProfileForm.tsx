import { useRef, useState, type FormEvent } from 'react';
import { Alert, ErrorAlert } from '@/components/ui/Alert';
import { Button } from '@/components/ui/Button';
import { TextAreaField, TextField } from '@/components/ui/Field';
import { focusFirstInvalid, validate, type FieldErrors } from '@/lib/form';
import { apiFieldErrors, toApiError } from '@/lib/problem';
import type { User } from '@/lib/schemas';
import { useUpdateMeMutation } from '../api/auth';
import { ProfileSchema } from '../schemas';

export function ProfileForm({ user }: { user: User }) {
  const [values, setValues] = useState({ name: user.name ?? '', username: user.username, avatar: user.avatar ?? '', bio: user.bio ?? '' });
  const [errors, setErrors] = useState<FieldErrors>({});
  const [saved, setSaved] = useState(false);
  const [updateMe, { isLoading, error, reset }] = useUpdateMeMutation();
  const formRef = useRef<HTMLFormElement>(null);

  const set = (key: keyof typeof values) => (e: React.ChangeEvent<HTMLInputElement | HTMLTextAreaElement>) => {
    setSaved(false);
    setValues((s) => ({ ...s, [key]: e.target.value }));
  };

  async function onSubmit(e: FormEvent) {
    e.preventDefault();
    reset();
    setSaved(false);
    const v = validate(ProfileSchema, values);
    if (!v.ok) {
      setErrors(v.errors);
      focusFirstInvalid(formRef.current);
      return;
    }
    setErrors({});
    try {
      await updateMe(v.data).unwrap();
      setSaved(true);
    } catch (err) {
      setErrors(apiFieldErrors(err));
      focusFirstInvalid(formRef.current);
    }
  }

  const apiError = toApiError(error);
  const avatarOk = /^https?:\/\/\S+$/.test(values.avatar);

  return (
    <form ref={formRef} onSubmit={onSubmit} noValidate className="space-y-4" aria-labelledby="profile-heading">
      <h2 id="profile-heading" className="text-lg font-semibold">
        Profile
      </h2>
      {apiError && Object.keys(apiError.fieldErrors).length === 0 && <ErrorAlert error={apiError} />}
      {saved && <Alert tone="success">Profile saved.</Alert>}
      <div className="flex items-center gap-4">
        {avatarOk ? (
          <img src={values.avatar} alt="Avatar preview" className="size-16 rounded-full border border-slate-200 object-cover dark:border-slate-700" />
        ) : (
          <div aria-hidden="true" className="flex size-16 items-center justify-center rounded-full bg-indigo-100 text-2xl font-semibold text-indigo-800 dark:bg-indigo-950 dark:text-indigo-200">
            {(values.name || values.username || '?').slice(0, 1).toUpperCase()}
          </div>
        )}
        <p className="text-sm text-slate-600 dark:text-slate-400">{user.email}</p>
      </div>
      <div className="grid gap-4 sm:grid-cols-2">
        <TextField label="Name" name="name" autoComplete="name" value={values.name} onChange={set('name')} error={errors.name} />
        <TextField label="Username" name="username" autoComplete="username" value={values.username} onChange={set('username')} error={errors.username} />
      </div>
      <TextField label="Avatar URL" name="avatar" type="url" inputMode="url" placeholder="https://…" value={values.avatar} onChange={set('avatar')} error={errors.avatar} />
      <TextAreaField
        label="Bio"
        name="bio"
        value={values.bio}
        onChange={set('bio')}
        error={errors.bio}
        hint={`${values.bio.length}/500`}
        maxLength={600}
      />
      <Button type="submit" loading={isLoading}>
        Save profile
      </Button>
    </form>
  );
}
