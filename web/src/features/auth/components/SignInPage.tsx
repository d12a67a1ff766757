import { useId, useState, type FormEvent } from 'react';
import { Navigate, useLocation, useNavigate } from 'react-router';
import { ApiError, describeError } from '../../../api/errors';
import { getToken, setToken, lastClearReason } from '../../../api/token';
import { Notice } from '../../../components/Status';
import { useDocumentTitle } from '../../../lib/useDocumentTitle';
import { verifyToken } from '../api/verifyToken';
import styles from './SignInPage.module.css';

interface LocationState {
  from?: string;
}

export function SignInPage() {
  useDocumentTitle('Sign in');
  const navigate = useNavigate();
  const location = useLocation();
  const from = (location.state as LocationState | null)?.from ?? '/';
  const [token, setTokenInput] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [reason] = useState(lastClearReason);
  const tokenId = useId();
  const hintId = useId();
  const errorId = useId();

  if (getToken() && !busy) return <Navigate to={from} replace />;

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const value = token.trim();
    if (!value) {
      setError('Enter your API token.');
      return;
    }
    setBusy(true);
    setError(null);
    try {
      await verifyToken(value);
      setToken(value);
      void navigate(from, { replace: true });
    } catch (e) {
      setError(
        e instanceof ApiError && e.status === 401
          ? 'That token was not accepted. Check it and try again.'
          : describeError(e),
      );
    } finally {
      setBusy(false);
    }
  };

  return (
    <main className={styles.page}>
      <div className={styles.panel}>
        <h1>Sign in to engage</h1>
        {reason === 'rejected' && (
          <Notice tone="warning">Your session ended: the server no longer accepts that token.</Notice>
        )}
        {reason === 'signed-out' && <Notice>You are signed out.</Notice>}
        <form className={styles.form} onSubmit={submit} noValidate>
          <div className={styles.field}>
            <label htmlFor={tokenId}>API token</label>
            <input
              id={tokenId}
              name="token"
              type="password"
              autoComplete="off"
              spellCheck={false}
              value={token}
              onChange={(e) => setTokenInput(e.target.value)}
              aria-describedby={error ? `${hintId} ${errorId}` : hintId}
              aria-invalid={error ? true : undefined}
              required
            />
            <p id={hintId} className={styles.hint}>
              The admin token from <code>ENGAGE_ADMIN_TOKEN</code>, or the one <code>engage serve</code> printed at
              first start. It is kept for this tab only.
            </p>
          </div>
          {error && (
            <p id={errorId} role="alert" className={styles.error}>
              {error}
            </p>
          )}
          <button type="submit" disabled={busy}>
            {busy ? 'Checking…' : 'Sign in'}
          </button>
        </form>
      </div>
    </main>
  );
}
