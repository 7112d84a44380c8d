import { useState } from 'react';
import { Button } from '@/components/ui/Button';
import { Card, PageHeader } from '@/components/ui/Card';
import { ConfirmDialog } from '@/components/ui/ConfirmDialog';
import { ErrorAlert } from '@/components/ui/Alert';
import { PageSkeleton } from '@/components/ui/Skeleton';
import { useDeleteAccountMutation, useLogoutMutation, useMeQuery } from '@/features/auth/api/auth';
import { PasswordForm } from '@/features/auth/components/PasswordForm';
import { ProfileForm } from '@/features/auth/components/ProfileForm';
import { SessionsList } from '@/features/auth/components/SessionsList';

export function Component() {
  const me = useMeQuery();
  const [logout, logoutState] = useLogoutMutation();
  const [deleteAccount, deleteState] = useDeleteAccountMutation();
  const [confirmDelete, setConfirmDelete] = useState(false);

  return (
    <>
      <title>Profile · Plangen</title>
      <PageHeader title="Profile" description="Your public profile, password and signed-in devices." />
      <div className="grid gap-6 lg:grid-cols-2">
        <Card className="h-fit">{me.isLoading ? <PageSkeleton /> : me.error || !me.data ? <ErrorAlert error={me.error} onRetry={me.refetch} /> : <ProfileForm key={me.data.updatedAt} user={me.data} />}</Card>
        <div className="space-y-6">
          <Card>
            <PasswordForm />
          </Card>
          <Card className="space-y-4">
            <SessionsList />
            <Button variant="secondary" onClick={() => void logout({ everywhere: true })} loading={logoutState.isLoading} data-testid="logout-all">
              Sign out everywhere
            </Button>
          </Card>
          <Card className="space-y-3 border-red-200 dark:border-red-900">
            <h2 className="text-lg font-semibold text-red-800 dark:text-red-300">Delete account</h2>
            <p className="text-sm text-slate-600 dark:text-slate-400">Removes your account, templates and plans. This cannot be undone.</p>
            {deleteState.error && <ErrorAlert error={deleteState.error} />}
            <Button variant="danger" onClick={() => setConfirmDelete(true)}>
              Delete my account
            </Button>
          </Card>
        </div>
      </div>
      <ConfirmDialog
        open={confirmDelete}
        title="Delete your account?"
        confirmLabel="Delete account"
        loading={deleteState.isLoading}
        onCancel={() => setConfirmDelete(false)}
        onConfirm={() => {
          setConfirmDelete(false);
          void deleteAccount();
        }}
      >
        All your templates and plans will be removed permanently.
      </ConfirmDialog>
    </>
  );
}
