import { Link } from 'react-router';
import { useDocumentTitle } from '../lib/useDocumentTitle';

export function NotFoundPage() {
  useDocumentTitle('Page not found');
  return (
    <>
      <h1>Page not found</h1>
      <p>
        Nothing is at this address. <Link to="/">Go to the dashboard</Link>.
      </p>
    </>
  );
}
