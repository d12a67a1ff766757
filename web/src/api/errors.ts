import type { components } from './schema';

export type Problem = components['schemas']['Problem'];

/** An API answer that was not a success, with the problem document when there was one. */
export class ApiError extends Error {
  readonly status: number;
  readonly problem: Problem | null;

  constructor(status: number, problem: Problem | null) {
    super(problem?.detail ?? `The server answered ${status}.`);
    this.name = 'ApiError';
    this.status = status;
    this.problem = problem;
  }

  get isConflict(): boolean {
    return this.status === 409 || this.status === 412;
  }
}

function asProblem(body: unknown): Problem | null {
  if (body && typeof body === 'object' && 'status' in body && 'detail' in body) {
    return body as Problem;
  }
  return null;
}

/** Turns an openapi-fetch result into its data, or throws an {@link ApiError}. */
export function unwrap<T>(result: { data?: T; error?: unknown; response: Response }): T {
  if (result.response.ok) {
    return result.data as T;
  }
  throw new ApiError(result.response.status, asProblem(result.error));
}

/** A sentence for people describing any error thrown by a fetcher. */
export function describeError(error: unknown): string {
  if (error instanceof ApiError) {
    if (error.status === 401) return 'Your session has ended. Sign in again.';
    if (error.status === 404) return error.problem?.detail ?? 'Not found.';
    // 501: this deployment cannot do it (the AWS backend: sorting clients, the stats…).
    if (error.status === 501) return error.problem?.detail ?? 'This deployment cannot do that.';
    if (error.status >= 500) return 'The server had a problem. Try again in a moment.';
    return error.problem?.detail ?? error.message;
  }
  if (error instanceof TypeError) return 'Could not reach the server. Check your connection.';
  if (error instanceof Error) return error.message;
  return 'Something went wrong.';
}
