import { lazy, Suspense, type ReactNode } from 'react';
import { Route, Routes } from 'react-router';
import { Loading } from '../components/Status';
import { SignInPage } from '../features/auth/components/SignInPage';
import { Layout } from './Layout';
import { NotFoundPage } from './NotFoundPage';
import { RequireAuth } from './RequireAuth';

// Each page is its own chunk: the first load carries the shell and the sign-in page only.
const DashboardPage = lazy(() => import('../features/dashboard/components/DashboardPage'));
const ClientsPage = lazy(() => import('../features/clients/components/ClientsPage'));
const ClientDetailPage = lazy(() => import('../features/clients/components/ClientDetailPage'));
const EmailDetailPage = lazy(() => import('../features/emails/components/EmailDetailPage'));
const SuppressionsPage = lazy(() => import('../features/suppressions/components/SuppressionsPage'));
const DeadLettersPage = lazy(() => import('../features/dead-letters/components/DeadLettersPage'));

export function App() {
  return (
    <Routes>
      <Route path="/sign-in" element={<SignInPage />} />
      <Route
        element={
          <RequireAuth>
            <Layout />
          </RequireAuth>
        }
      >
        <Route index element={<Page element={<DashboardPage />} />} />
        <Route path="clients" element={<Page element={<ClientsPage />} />} />
        <Route path="clients/:id" element={<Page element={<ClientDetailPage />} />} />
        <Route path="emails/:id" element={<Page element={<EmailDetailPage />} />} />
        <Route path="suppressions" element={<Page element={<SuppressionsPage />} />} />
        <Route path="dead-letters" element={<Page element={<DeadLettersPage />} />} />
        <Route path="*" element={<NotFoundPage />} />
      </Route>
    </Routes>
  );
}

function Page({ element }: { element: ReactNode }) {
  return <Suspense fallback={<Loading label="Loading page…" />}>{element}</Suspense>;
}
