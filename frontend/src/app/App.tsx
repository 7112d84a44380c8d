import { useState } from 'react';
import { Provider } from 'react-redux';
import { RouterProvider } from 'react-router';
import { restoreSession } from '@/lib/api';
import { makeRouter } from './router';
import { makeStore, type AppStore } from './store';

function createApp(): { store: AppStore; router: ReturnType<typeof makeRouter> } {
  const store = makeStore();
  // Restore the session from the httpOnly refresh cookie before anything asks for data.
  void store.dispatch(restoreSession());
  return { store, router: makeRouter() };
}

export function App() {
  const [{ store, router }] = useState(createApp);
  return (
    <Provider store={store}>
      <RouterProvider router={router} />
    </Provider>
  );
}
