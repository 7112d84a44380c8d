import type { ReactNode } from 'react';

export function AuthCard({ title, subtitle, children, footer }: { title: string; subtitle?: string; children: ReactNode; footer?: ReactNode }) {
  return (
    <div className="flex min-h-dvh flex-col items-center justify-center px-4 py-10">
      <header className="mb-6 flex items-center gap-2 text-xl font-bold text-indigo-700 dark:text-indigo-300">
        <img src="/favicon.svg" alt="" className="size-8" />
        Plangen
      </header>
      <main id="main" className="w-full max-w-sm rounded-2xl border border-slate-200 bg-white p-6 shadow-sm sm:p-8 dark:border-slate-800 dark:bg-slate-900">
        <h1 className="text-xl font-semibold">{title}</h1>
        {subtitle && <p className="mt-1 text-sm text-slate-600 dark:text-slate-400">{subtitle}</p>}
        <div className="mt-6">{children}</div>
      </main>
      {footer && <footer className="mt-6 text-sm text-slate-600 dark:text-slate-400">{footer}</footer>}
    </div>
  );
}
