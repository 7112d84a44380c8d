import { Link } from 'react-router';
import { Badge } from '@/components/ui/Badge';
import type { Template } from '../schemas';

export function TemplateCard({ template }: { template: Template }) {
  return (
    <li className="group relative flex flex-col rounded-xl border border-slate-200 bg-white p-4 shadow-xs transition hover:border-indigo-400 hover:shadow-md dark:border-slate-800 dark:bg-slate-900 dark:hover:border-indigo-500">
      <div className="mb-2 flex items-center justify-between gap-2">
        <Badge tone="indigo">{template.category}</Badge>
        {template.visibility === 'public' ? <Badge tone="green">Public</Badge> : <Badge>Private</Badge>}
      </div>
      <h2 className="text-base font-semibold break-words">
        <Link to={`/templates/${template.id}`} className="after:absolute after:inset-0 focus-visible:outline-none">
          {template.name}
        </Link>
      </h2>
      {template.description && <p className="mt-1 line-clamp-2 text-sm text-slate-600 dark:text-slate-400">{template.description}</p>}
      <div className="mt-auto flex flex-wrap items-center gap-1.5 pt-3 text-xs text-slate-600 dark:text-slate-400">
        <span>
          {template.steps.length} step{template.steps.length === 1 ? '' : 's'}
        </span>
        {template.tags.slice(0, 4).map((t) => (
          <Badge key={t}>#{t}</Badge>
        ))}
      </div>
    </li>
  );
}
