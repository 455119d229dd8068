// The injected error policy: every problem met while reading (bad shard, bad sample) goes through one handler.

/** What happened, where. `key` is the sample key when one is known. */
export interface WdsErrorInfo {
  url: string;
  key?: string;
  reason: string;
}

/** `raise`: throw (after calling onError); `warn`: report and continue; `skip`: continue silently (onError still called). */
export type ErrorPolicy = 'raise' | 'warn' | 'skip';

export interface ErrorHandling {
  /** Default `raise`. */
  errorPolicy?: ErrorPolicy;
  /** Receives every problem, whatever the policy. Under `warn` without onError, problems go to console.warn. */
  onError?: (info: WdsErrorInfo) => void;
}

/** An error raised by this package: names the shard URL and, when known, the sample key. */
export class WebDatasetError extends Error {
  readonly url: string;
  readonly key: string | undefined;
  readonly reason: string;
  constructor(info: WdsErrorInfo, options?: { cause?: unknown }) {
    super(`${info.url}${info.key !== undefined ? ` (sample ${JSON.stringify(info.key)})` : ''}: ${info.reason}`, options);
    this.name = 'WebDatasetError';
    this.url = info.url;
    this.key = info.key;
    this.reason = info.reason;
  }
}

/** The policy, checked: a misspelt one is an error at once, not when the first problem shows up. */
export function checkedPolicy(handling: ErrorHandling): ErrorPolicy {
  const policy = handling.errorPolicy ?? 'raise';
  if (policy !== 'raise' && policy !== 'warn' && policy !== 'skip') {
    throw new TypeError(`errorPolicy must be 'raise', 'warn' or 'skip', got ${JSON.stringify(policy)}`);
  }
  return policy;
}

/** Apply the policy to one problem: throws under `raise`, otherwise reports and returns. */
export function reportProblem(handling: ErrorHandling, info: WdsErrorInfo, cause?: unknown): void {
  const policy = checkedPolicy(handling);
  handling.onError?.(info);
  if (policy === 'raise') {
    throw cause instanceof WebDatasetError ? cause : new WebDatasetError(info, { cause });
  }
  if (policy === 'warn' && !handling.onError) {
    console.warn(`[webdataset] ${new WebDatasetError(info).message}`);
  }
}

/** Message of any thrown value. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
