import { useState } from 'react';
import { Navigate, NavLink, Outlet, useLocation, useNavigation } from 'react-router';
import { ThemeToggle } from '@/components/ThemeToggle';
import { Button } from '@/components/ui/Button';
import { PageSkeleton } from '@/components/ui/Skeleton';
import { cn } from '@/components/ui/cn';
import { useLogoutMutation } from '@/features/auth/api/auth';
import { useAppSelector } from '@/lib/hooks';
import { selectSession } from '@/lib/session';

const NAV = [
  { to: '/', label: 'Dashboard', end: true },
  { to: '/templates', label: 'Templates' },
  { to: '/plans', label: 'Plans' },
  { to: '/calendar', label: 'Calendar' },
  { to: '/profile', label: 'Profile' },
];

/** Pages for signed-in users: nav bar + content; redirects to /login otherwise. */
export function ProtectedLayout() {
  const session = useAppSelector(selectSession);
  const location = useLocation();
  const navigation = useNavigation();
  const [menuOpen, setMenuOpen] = useState(false);
  const [logout, logoutState] = useLogoutMutation();
  const [lastPath, setLastPath] = useState(location.pathname);
  if (lastPath !== location.pathname) {
    setLastPath(location.pathname);
    setMenuOpen(false);
  }

  if (session.status === 'unknown') return <PageSkeleton />;
  if (session.status === 'anonymous') {
    const next = location.pathname + location.search;
    return <Navigate to={next === '/' ? '/login' : `/login?next=${encodeURIComponent(next)}`} replace />;
  }

  const user = session.user;
  return (
    <div className="flex min-h-dvh flex-col">
      <a href="#main" className="sr-only z-50 rounded bg-indigo-600 px-3 py-2 text-white focus:not-sr-only focus:fixed focus:top-2 focus:left-2">
        Skip to content
      </a>
      <header className="sticky top-0 z-40 border-b border-slate-200 bg-white/90 backdrop-blur dark:border-slate-800 dark:bg-slate-900/90">
        <div className="mx-auto flex h-14 max-w-6xl items-center gap-3 px-4">
          <NavLink to="/" className="flex items-center gap-2 font-bold text-indigo-700 dark:text-indigo-300">
            <img src="/favicon.svg" alt="" className="size-7" />
            <span>Plangen</span>
          </NavLink>
          <nav aria-label="Main" className="ml-4 hidden md:block">
            <NavItems />
          </nav>
          <div className="ml-auto flex items-center gap-1">
            <ThemeToggle />
            <span className="hidden max-w-40 truncate px-2 text-sm text-slate-600 lg:inline dark:text-slate-400" data-testid="current-user">
              {user?.name || user?.username}
            </span>
            <span className="hidden md:block">
              <Button variant="ghost" size="sm" onClick={() => void logout()} loading={logoutState.isLoading} data-testid="logout">
                Sign out
              </Button>
            </span>
            <button
              type="button"
              className="inline-flex size-9 items-center justify-center rounded-lg hover:bg-slate-100 md:hidden dark:hover:bg-slate-800"
              aria-expanded={menuOpen}
              aria-controls="mobile-nav"
              aria-label="Menu"
              onClick={() => setMenuOpen((o) => !o)}
              data-testid="menu-toggle"
            >
              <svg viewBox="0 0 24 24" className="size-5" aria-hidden="true" fill="none" stroke="currentColor" strokeWidth="2" strokeLinecap="round">
                {menuOpen ? <path d="M6 6l12 12M18 6L6 18" /> : <path d="M4 7h16M4 12h16M4 17h16" />}
              </svg>
            </button>
          </div>
        </div>
        {menuOpen && (
          <nav id="mobile-nav" aria-label="Main" className="border-t border-slate-200 px-4 py-3 md:hidden dark:border-slate-800">
            <NavItems vertical />
            <Button variant="ghost" className="mt-2 w-full justify-start" onClick={() => void logout()} data-testid="logout-mobile">
              Sign out
            </Button>
          </nav>
        )}
        {navigation.state === 'loading' && <div className="h-0.5 animate-pulse bg-indigo-500" role="progressbar" aria-label="Loading page" />}
      </header>
      <main id="main" tabIndex={-1} className="mx-auto w-full max-w-6xl flex-1 px-4 py-6 sm:py-8">
        <Outlet />
      </main>
      <footer className="border-t border-slate-200 py-4 text-center text-xs text-slate-600 dark:border-slate-800 dark:text-slate-400">Plangen</footer>
    </div>
  );
}

function NavItems({ vertical }: { vertical?: boolean }) {
  return (
    <ul className={cn('flex gap-1', vertical && 'flex-col')}>
      {NAV.map((n) => (
        <li key={n.to}>
          <NavLink
            to={n.to}
            end={n.end}
            className={({ isActive }) =>
              cn(
                'block rounded-lg px-3 py-2 text-sm font-medium',
                isActive ? 'bg-indigo-50 text-indigo-800 dark:bg-indigo-950 dark:text-indigo-200' : 'text-slate-700 hover:bg-slate-100 dark:text-slate-200 dark:hover:bg-slate-800',
              )
            }
          >
            {n.label}
          </NavLink>
        </li>
      ))}
    </ul>
  );
}

/** Login/register: signed-in users are sent on. */
export function PublicOnlyLayout() {
  const session = useAppSelector(selectSession);
  const location = useLocation();
  if (session.status === 'unknown') return <PageSkeleton />;
  if (session.status === 'authenticated') {
    const next = new URLSearchParams(location.search).get('next');
    return <Navigate to={next && next.startsWith('/') && !next.startsWith('//') ? next : '/'} replace />;
  }
  return (
    <>
      <div className="fixed top-3 right-3">
        <ThemeToggle />
      </div>
      <Outlet />
    </>
  );
}
