import { api } from '@/lib/api';
import { AuthResponseSchema, UserSchema, type AuthResponse, type User } from '@/lib/schemas';
import { credentialsReceived, sessionEnded, userUpdated } from '@/lib/session';
import { SessionsResponseSchema, type LoginInput, type ProfileInput, type RegisterInput, type Session } from '../schemas';

export const authApi = api.injectEndpoints({
  endpoints: (build) => ({
    login: build.mutation<AuthResponse, LoginInput>({
      query: (body) => ({ url: '/auth/login', method: 'POST', body }),
      transformResponse: (r: unknown) => AuthResponseSchema.parse(r),
      async onQueryStarted(_arg, { dispatch, queryFulfilled }) {
        try {
          const { data } = await queryFulfilled;
          dispatch(api.util.resetApiState());
          dispatch(credentialsReceived({ auth: data }));
        } catch {
          /* shown by the form */
        }
      },
    }),
    register: build.mutation<AuthResponse, RegisterInput>({
      query: (body) => ({ url: '/auth/register', method: 'POST', body }),
      transformResponse: (r: unknown) => AuthResponseSchema.parse(r),
      async onQueryStarted(_arg, { dispatch, queryFulfilled }) {
        try {
          const { data } = await queryFulfilled;
          dispatch(api.util.resetApiState());
          dispatch(credentialsReceived({ auth: data }));
        } catch {
          /* shown by the form */
        }
      },
    }),
    logout: build.mutation<null, { everywhere?: boolean } | void>({
      query: (arg) => ({ url: arg && arg.everywhere ? '/auth/logout-all' : '/auth/logout', method: 'POST' }),
      async onQueryStarted(_arg, { dispatch, queryFulfilled }) {
        // Sign out locally even if the server call fails (e.g. offline).
        await queryFulfilled.catch(() => undefined);
        dispatch(sessionEnded({ reason: 'logout' }));
        dispatch(api.util.resetApiState());
      },
    }),
    me: build.query<User, void>({
      query: () => '/auth/me',
      transformResponse: (r: unknown) => UserSchema.parse(r),
      providesTags: ['Me'],
    }),
    updateMe: build.mutation<User, Partial<ProfileInput>>({
      query: (body) => ({ url: '/auth/me', method: 'PATCH', body }),
      transformResponse: (r: unknown) => UserSchema.parse(r),
      async onQueryStarted(_arg, { dispatch, queryFulfilled }) {
        try {
          const { data } = await queryFulfilled;
          dispatch(userUpdated(data));
          dispatch(authApi.util.upsertQueryData('me', undefined, data));
        } catch {
          /* shown by the form */
        }
      },
    }),
    changePassword: build.mutation<null, { currentPassword: string; newPassword: string }>({
      query: (body) => ({ url: '/auth/me/password', method: 'PUT', body }),
      invalidatesTags: ['Sessions'],
    }),
    deleteAccount: build.mutation<null, void>({
      query: () => ({ url: '/auth/me', method: 'DELETE' }),
      async onQueryStarted(_arg, { dispatch, queryFulfilled }) {
        try {
          await queryFulfilled;
          dispatch(sessionEnded({ reason: 'logout' }));
          dispatch(api.util.resetApiState());
        } catch {
          /* shown by the caller */
        }
      },
    }),
    sessions: build.query<Session[], void>({
      query: () => '/auth/sessions',
      transformResponse: (r: unknown) => SessionsResponseSchema.parse(r).sessions,
      providesTags: ['Sessions'],
    }),
    endSession: build.mutation<null, string>({
      query: (id) => ({ url: `/auth/sessions/${encodeURIComponent(id)}`, method: 'DELETE' }),
      invalidatesTags: ['Sessions'],
    }),
  }),
});

export const {
  useLoginMutation,
  useRegisterMutation,
  useLogoutMutation,
  useMeQuery,
  useUpdateMeMutation,
  useChangePasswordMutation,
  useDeleteAccountMutation,
  useSessionsQuery,
  useEndSessionMutation,
} = authApi;
