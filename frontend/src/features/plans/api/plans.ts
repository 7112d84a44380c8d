import { api } from '@/lib/api';
import {
  PlanPageSchema,
  PlanSchema,
  ScheduleSchema,
  type FromTemplateInput,
  type Plan,
  type PlanInput,
  type PlanListArgs,
  type PlanPage,
  type ScheduleItem,
} from '../schemas';

function clean(args: object): Record<string, string | number> {
  const out: Record<string, string | number> = {};
  for (const [k, v] of Object.entries(args)) if (v !== undefined && v !== '' && v !== null) out[k] = v as string | number;
  return out;
}

const LIST = { type: 'Plan' as const, id: 'LIST' };

export const plansApi = api.injectEndpoints({
  endpoints: (build) => ({
    listPlans: build.infiniteQuery<PlanPage, PlanListArgs, string | null>({
      infiniteQueryOptions: {
        initialPageParam: null,
        getNextPageParam: (lastPage) => lastPage.nextCursor ?? undefined,
      },
      query: ({ queryArg, pageParam }) => ({ url: '/plans', params: clean({ limit: 20, ...queryArg, cursor: pageParam ?? undefined }) }),
      transformResponse: (r: unknown) => PlanPageSchema.parse(r),
      providesTags: [LIST],
    }),
    getPlan: build.query<Plan, string>({
      query: (id) => `/plans/${encodeURIComponent(id)}`,
      transformResponse: (r: unknown) => PlanSchema.parse(r),
      providesTags: (_r, _e, id) => [{ type: 'Plan', id }],
    }),
    createPlan: build.mutation<Plan, PlanInput>({
      query: (body) => ({ url: '/plans', method: 'POST', body }),
      transformResponse: (r: unknown) => PlanSchema.parse(r),
      invalidatesTags: (r) => (r ? [LIST, 'Schedule'] : []),
    }),
    updatePlan: build.mutation<Plan, { id: string; version: number; body: PlanInput }>({
      query: ({ id, version, body }) => ({ url: `/plans/${encodeURIComponent(id)}`, method: 'PUT', body, headers: { 'If-Match': `"${version}"` } }),
      transformResponse: (r: unknown) => PlanSchema.parse(r),
      async onQueryStarted({ id }, { dispatch, queryFulfilled }) {
        try {
          const { data } = await queryFulfilled;
          dispatch(plansApi.util.upsertQueryData('getPlan', id, data));
        } catch {
          /* shown by the caller */
        }
      },
      invalidatesTags: (r) => (r ? [LIST, 'Schedule'] : []),
    }),
    deletePlan: build.mutation<null, string>({
      query: (id) => ({ url: `/plans/${encodeURIComponent(id)}`, method: 'DELETE' }),
      invalidatesTags: (_r, e) => (e ? [] : [LIST, 'Schedule']),
    }),
    setItemDone: build.mutation<Plan, { planId: string; itemId: string; done: boolean }>({
      query: ({ planId, itemId, done }) => ({
        url: `/plans/${encodeURIComponent(planId)}/items/${encodeURIComponent(itemId)}`,
        method: 'PATCH',
        body: { done },
      }),
      transformResponse: (r: unknown) => PlanSchema.parse(r),
      // Optimistic: flip the item in the cached plan now, roll back if the server refuses.
      async onQueryStarted({ planId, itemId, done }, { dispatch, queryFulfilled }) {
        const patch = dispatch(
          plansApi.util.updateQueryData('getPlan', planId, (draft) => {
            const item = draft.items.find((i) => i.id === itemId);
            if (item) item.doneAt = done ? new Date().toISOString() : null;
          }),
        );
        try {
          const { data } = await queryFulfilled;
          dispatch(plansApi.util.upsertQueryData('getPlan', planId, data));
        } catch {
          patch.undo();
        }
      },
      invalidatesTags: (r) => (r ? [LIST, 'Schedule'] : []),
    }),
    createFromTemplate: build.mutation<Plan, FromTemplateInput & { idempotencyKey: string }>({
      query: ({ idempotencyKey, title, ...rest }) => ({
        url: '/plans/from-template',
        method: 'POST',
        body: title ? { ...rest, title } : rest,
        headers: { 'Idempotency-Key': idempotencyKey },
      }),
      transformResponse: (r: unknown) => PlanSchema.parse(r),
      invalidatesTags: (r) => (r ? [LIST, 'Schedule'] : []),
    }),
    getSchedule: build.query<ScheduleItem[], { from: string; to: string }>({
      query: (params) => ({ url: '/plans/schedule', params }),
      transformResponse: (r: unknown) => ScheduleSchema.parse(r).items,
      providesTags: ['Schedule'],
    }),
    planCalendar: build.query<string, string>({
      query: (id) => ({ url: `/plans/${encodeURIComponent(id)}/calendar.ics`, headers: { Accept: 'text/calendar' }, responseHandler: 'text' }),
      keepUnusedDataFor: 0,
    }),
  }),
});

export const {
  useListPlansInfiniteQuery,
  useGetPlanQuery,
  useCreatePlanMutation,
  useUpdatePlanMutation,
  useDeletePlanMutation,
  useSetItemDoneMutation,
  useCreateFromTemplateMutation,
  useGetScheduleQuery,
  useLazyPlanCalendarQuery,
} = plansApi;
