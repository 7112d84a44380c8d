import { createBrowserRouter, type RouteObject } from 'react-router';
import { PageSkeleton } from '@/components/ui/Skeleton';
import { ProtectedLayout, PublicOnlyLayout } from './layouts';
import { RouteError } from './RouteError';

/** Route table; every page is a lazily loaded chunk exporting `Component`. */
export const routes: RouteObject[] = [
  {
    errorElement: <RouteError />,
    hydrateFallbackElement: <PageSkeleton />,
    children: [
      {
        element: <PublicOnlyLayout />,
        children: [
          { path: '/login', lazy: () => import('./routes/login') },
          { path: '/register', lazy: () => import('./routes/register') },
        ],
      },
      {
        element: <ProtectedLayout />,
        errorElement: <RouteError />,
        children: [
          { index: true, lazy: () => import('./routes/dashboard') },
          { path: '/templates', lazy: () => import('./routes/templates') },
          { path: '/templates/new', lazy: () => import('./routes/template-new') },
          { path: '/templates/:id', lazy: () => import('./routes/template') },
          { path: '/templates/:id/edit', lazy: () => import('./routes/template-edit') },
          { path: '/templates/:id/use', lazy: () => import('./routes/template-use') },
          { path: '/plans', lazy: () => import('./routes/plans') },
          { path: '/plans/new', lazy: () => import('./routes/plan-new') },
          { path: '/plans/:id', lazy: () => import('./routes/plan') },
          { path: '/plans/:id/edit', lazy: () => import('./routes/plan-edit') },
          { path: '/calendar', lazy: () => import('./routes/calendar') },
          { path: '/profile', lazy: () => import('./routes/profile') },
          { path: '*', lazy: () => import('./routes/not-found') },
        ],
      },
    ],
  },
];

export function makeRouter() {
  return createBrowserRouter(routes);
}
