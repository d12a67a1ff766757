import { ApiError, describeError } from './errors';

const problem = (status: number, detail: string) => ({ type: '/problems/x', title: 'x', status, detail });

describe('describeError', () => {
  it('says what a deployment cannot do (501) in the server\u2019s words, and hides other 5xx details', () => {
    expect(describeError(new ApiError(501, problem(501, 'sorting clients needs the embedded backend')))).toBe(
      'sorting clients needs the embedded backend',
    );
    expect(describeError(new ApiError(500, problem(500, 'stack trace')))).toBe(
      'The server had a problem. Try again in a moment.',
    );
  });

  it('asks to sign in again after a 401, and shows a client error as the problem says', () => {
    expect(describeError(new ApiError(401, null))).toBe('Your session has ended. Sign in again.');
    expect(describeError(new ApiError(400, problem(400, 'limit must be 1 to 200')))).toBe('limit must be 1 to 200');
  });
});
