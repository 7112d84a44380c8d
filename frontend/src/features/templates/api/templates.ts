import { api } from '@/lib/api';
import {
  CategoriesSchema,
  TemplatePageSchema,
  TemplateSchema,
  type Category,
  type Template,
  type TemplateInput,
  type TemplateListArgs,
  type TemplatePage,
} from '../schemas';

function clean(args: object): Record<string, string | number> {
  const out: Record<string, string | number> = {};
  for (const [k, v] of Object.entries(args)) if (v !== undefined && v !== '' && v !== null) out[k] = v as string | number;
  return out;
}

export const templatesApi = api.injectEndpoints({
  endpoints: (build) => ({
    listTemplates: build.infiniteQuery<TemplatePage, TemplateListArgs, string | null>({
      infiniteQueryOptions: {
        initialPageParam: null,
        getNextPageParam: (lastPage) => lastPage.nextCursor ?? undefined,
      },
      query: ({ queryArg, pageParam }) => ({
        url: '/templates',
        params: clean({ limit: 24, ...queryArg, cursor: pageParam ?? undefined }),
      }),
      transformResponse: (r: unknown) => TemplatePageSchema.parse(r),
      providesTags: (result) => [
        { type: 'Template' as const, id: 'LIST' },
        ...(result?.pages.flatMap((p) => p.items.map((t) => ({ type: 'Template' as const, id: t.id }))) ?? []),
      ],
    }),
    categories: build.query<Category[], void>({
      query: () => '/templates/categories',
      transformResponse: (r: unknown) => CategoriesSchema.parse(r).categories,
      providesTags: ['Categories'],
    }),
    getTemplate: build.query<Template, string>({
      query: (id) => `/templates/${encodeURIComponent(id)}`,
      transformResponse: (r: unknown) => TemplateSchema.parse(r),
      providesTags: (_r, _e, id) => [{ type: 'Template', id }],
    }),
    createTemplate: build.mutation<Template, TemplateInput>({
      query: (body) => ({ url: '/templates', method: 'POST', body }),
      transformResponse: (r: unknown) => TemplateSchema.parse(r),
      invalidatesTags: [{ type: 'Template', id: 'LIST' }, 'Categories'],
    }),
    updateTemplate: build.mutation<Template, { id: string; version: number; body: TemplateInput }>({
      query: ({ id, version, body }) => ({
        url: `/templates/${encodeURIComponent(id)}`,
        method: 'PUT',
        body,
        headers: { 'If-Match': `"${version}"` },
      }),
      transformResponse: (r: unknown) => TemplateSchema.parse(r),
      invalidatesTags: (_r, _e, { id }) => [{ type: 'Template', id }, { type: 'Template', id: 'LIST' }, 'Categories'],
    }),
    deleteTemplate: build.mutation<null, string>({
      query: (id) => ({ url: `/templates/${encodeURIComponent(id)}`, method: 'DELETE' }),
      invalidatesTags: (_r, _e, id) => [{ type: 'Template', id }, { type: 'Template', id: 'LIST' }, 'Categories'],
    }),
  }),
});

export const {
  useListTemplatesInfiniteQuery,
  useCategoriesQuery,
  useGetTemplateQuery,
  useCreateTemplateMutation,
  useUpdateTemplateMutation,
  useDeleteTemplateMutation,
} = templatesApi;
