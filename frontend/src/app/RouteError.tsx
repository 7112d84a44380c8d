import { isRouteErrorResponse, useRouteError } from 'react-router';
import { ButtonLink } from '@/components/ui/Button';

export function RouteError() {
  const error = useRouteError();
  const chunkFailed = error instanceof Error && /dynamically imported module|Failed to fetch|Importing a module script failed/i.test(error.message);
  const title = isRouteErrorResponse(error) ? `${error.status} ${error.statusText}` : chunkFailed ? 'A new version is available' : 'Something went wrong';
  return (
    <main id="main" className="mx-auto flex min-h-[60dvh] max-w-lg flex-col items-center justify-center gap-4 px-4 text-center">
      <h1 className="text-2xl font-bold">{title}</h1>
      <p className="text-slate-600 dark:text-slate-400">
        {chunkFailed ? 'Reload the page to continue.' : 'The page could not be shown. Try again, or go back to the dashboard.'}
      </p>
      <div className="flex gap-2">
        <button type="button" className="rounded-lg bg-indigo-600 px-4 py-2 text-sm font-medium text-white" onClick={() => window.location.reload()}>
          Reload
        </button>
        <ButtonLink to="/" variant="secondary">
          Dashboard
        </ButtonLink>
      </div>
    </main>
  );
}
