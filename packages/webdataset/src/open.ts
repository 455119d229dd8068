// Open a shard URL as a stream of byte chunks: local files, and http(s) with bounded retries and resume.
import { open, type FileHandle } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { locateShard } from './urls.js';

export interface HttpOptions {
  /** Retries after the first attempt for network errors, 5xx, 408 and 429. Default 5. */
  retries?: number;
  /** First backoff delay in ms, doubled per retry (with jitter). Default 200. */
  backoffMs?: number;
  /** Upper bound on one backoff delay in ms. Default 5000. */
  maxBackoffMs?: number;
  /** Extra request headers (e.g. authorization). */
  headers?: Record<string, string>;
  /**
   * Longest wait in ms for the server while we are waiting on it: for the response headers, and for each next chunk
   * of the body. A request that stalls longer is aborted and retried (resuming with Range) like a broken transfer;
   * time the consumer spends between chunks does not count. Default 30000 (undici's own limits are 300 s).
   */
  stallTimeoutMs?: number;
}

export interface OpenShardOptions {
  http?: HttpOptions;
  /** Read size for local files. Default 1 MiB. */
  fileChunkSize?: number;
}

/** A 4xx answer (other than 408/429): retrying will not help. */
export class HttpStatusError extends Error {
  readonly status: number;
  readonly url: string;
  constructor(url: string, status: number, statusText: string) {
    super(`HTTP ${status}${statusText ? ` ${statusText}` : ''} for ${url}`);
    this.name = 'HttpStatusError';
    this.status = status;
    this.url = url;
  }
}

/** Open a shard for streaming. The file or request is opened when iteration starts and closed when it stops. */
export function openShard(url: string, options: OpenShardOptions = {}): AsyncIterable<Uint8Array> {
  return openShardChunks(url, options, false);
}

/**
 * Like {@link openShard}; with `reuseBuffers`, file chunks come from a small ring of recycled buffers, so each chunk
 * is valid only until the next one is requested. The tar reader copies what it keeps, so it can use this: it saves
 * one allocation per chunk, and keeps reads in flight ahead of the chunk being parsed.
 */
export function openShardChunks(url: string, options: OpenShardOptions, reuseBuffers: boolean): AsyncIterable<Uint8Array> {
  const location = locateShard(url);
  const chunkSize = options.fileChunkSize ?? 1024 * 1024;
  if (location.kind === 'http') return httpChunks(location.url, options.http ?? {});
  return reuseBuffers ? recycledFileChunks(location.path, chunkSize) : fileChunks(location.path, chunkSize);
}

async function openFile(path: string): Promise<FileHandle> {
  try {
    return await open(path, 'r');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (error as Error).message;
    throw new Error(`cannot open shard ${path}: ${why}`, { cause: error });
  }
}

async function* fileChunks(path: string, chunkSize: number): AsyncGenerator<Uint8Array> {
  const handle = await openFile(path);
  // The stream owns the handle and closes it when iteration ends, early or not.
  yield* handle.createReadStream({ highWaterMark: chunkSize }) as AsyncIterable<Uint8Array>;
}

/** Read buffers per open shard: the one being parsed plus reads in flight ahead of it. */
const READ_AHEAD_BUFFERS = 4;

async function* recycledFileChunks(path: string, chunkSize: number): AsyncGenerator<Uint8Array> {
  const handle = await openFile(path);
  // Positional reads of consecutive ranges run in parallel on the libuv pool while the consumer parses.
  const ring = Array.from({ length: READ_AHEAD_BUFFERS }, () => new Uint8Array(chunkSize));
  const inFlight: Promise<{ bytesRead: number }>[] = [];
  let size = 0;
  let nextPosition = 0;
  let nextBuffer = 0;
  const issue = () => {
    if (nextPosition >= size) return;
    inFlight.push(handle.read(ring[nextBuffer], 0, chunkSize, nextPosition));
    nextPosition += chunkSize;
    nextBuffer = (nextBuffer + 1) % ring.length;
  };
  let current = 0;
  try {
    size = (await handle.stat()).size;
    // All but one buffer are filled ahead; the last one is the chunk the consumer holds.
    for (let i = 0; i < ring.length - 1; i++) issue();
    while (inFlight.length > 0) {
      const { bytesRead } = await inFlight.shift()!;
      if (bytesRead === 0) return; // the file shrank while we read it
      const chunk = ring[current];
      current = (current + 1) % ring.length;
      issue(); // reuses the buffer the consumer has just finished with
      yield bytesRead === chunkSize ? chunk : chunk.subarray(0, bytesRead);
    }
  } finally {
    await Promise.allSettled(inFlight); // never close the handle under an in-flight read
    await handle.close();
  }
}

function isRetryableStatus(status: number): boolean {
  return status >= 500 || status === 408 || status === 429;
}

/** Default for {@link HttpOptions.stallTimeoutMs}. */
export const DEFAULT_STALL_TIMEOUT_MS = 30_000;

/** The reason a request is aborted with when the server stops sending. */
class StallError extends Error {
  constructor(ms: number, phase: string) {
    super(`stalled: no data for ${ms} ms${phase ? ` ${phase}` : ''}`);
    this.name = 'StallError';
  }
}

/**
 * A watchdog for one request: `arm` before waiting on the server, `disarm` once it answered. When it fires, the
 * request's signal aborts with a StallError, which fetch and the body reader then throw.
 */
class StallWatch {
  readonly controller = new AbortController();
  private timer: ReturnType<typeof setTimeout> | undefined;
  constructor(private readonly ms: number) {}
  get signal(): AbortSignal {
    return this.controller.signal;
  }
  arm(phase: string): void {
    this.disarm();
    this.timer = setTimeout(() => this.controller.abort(new StallError(this.ms, phase)), this.ms);
  }
  disarm(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }
  /** What to report for an error thrown while armed: the stall itself when the watchdog fired. */
  why(error: unknown): string {
    const reason: unknown = this.controller.signal.aborted ? this.controller.signal.reason : undefined;
    return reason instanceof StallError ? reason.message : (error as Error).message;
  }
}

async function* httpChunks(url: string, options: HttpOptions): AsyncGenerator<Uint8Array> {
  const retries = options.retries ?? 5;
  const backoffMs = options.backoffMs ?? 200;
  const maxBackoffMs = options.maxBackoffMs ?? 5000;
  const stallMs = options.stallTimeoutMs ?? DEFAULT_STALL_TIMEOUT_MS;
  if (!(stallMs > 0)) throw new Error(`${url}: http.stallTimeoutMs must be > 0, got ${stallMs}`);
  let attempt = 0;
  let received = 0;
  const retryOrThrow = async (what: string, cause?: unknown): Promise<void> => {
    if (attempt >= retries) {
      throw new Error(`${url}: ${what}; gave up after ${attempt + 1} attempts`, { cause });
    }
    const delay = Math.min(maxBackoffMs, backoffMs * 2 ** attempt) * (0.5 + Math.random() / 2);
    attempt++;
    await sleep(delay);
  };

  let validator: string | undefined; // ETag or Last-Modified of the first answer: the resumed bytes must match it

  for (;;) {
    const headers: Record<string, string> = { ...options.headers };
    // After a broken transfer, ask only for the rest; a server that ignores Range answers 200 and we skip ahead.
    if (received > 0) headers.range = `bytes=${received}-`;
    if (received > 0 && validator !== undefined) headers['if-range'] = validator;
    const watch = new StallWatch(stallMs);
    let response: Response;
    try {
      watch.arm('waiting for the response headers');
      response = await fetch(url, { headers, signal: watch.signal });
    } catch (error) {
      watch.disarm();
      await retryOrThrow(`network error (${networkReason(watch.why(error), error)})`, error);
      continue;
    }
    watch.disarm();
    if (isRetryableStatus(response.status)) {
      await response.body?.cancel();
      await retryOrThrow(`HTTP ${response.status} ${response.statusText}`);
      continue;
    }
    if (response.status >= 400) {
      await response.body?.cancel();
      throw new HttpStatusError(url, response.status, response.statusText);
    }
    if (!response.body) throw new Error(`${url}: HTTP ${response.status} response has no body`);
    const answerValidator = response.headers.get('etag') ?? response.headers.get('last-modified') ?? undefined;
    if (received === 0) validator = answerValidator;
    else if (validator !== undefined && answerValidator !== undefined && answerValidator !== validator) {
      await response.body.cancel();
      throw new Error(`${url}: the shard changed on the server while it was being read (was ${validator}, now ${answerValidator})`);
    }
    if (received > 0 && response.status === 206) {
      const start = /^bytes (\d+)-/.exec(response.headers.get('content-range') ?? '')?.[1];
      if (start === undefined || Number(start) !== received) {
        await response.body.cancel();
        throw new Error(
          `${url}: asked to resume at byte ${received} but the server sent content-range ${JSON.stringify(response.headers.get('content-range'))}`,
        );
      }
    }
    let skip = received > 0 && response.status !== 206 ? received : 0;
    const reader = response.body.getReader();
    let finished = false;
    try {
      for (;;) {
        // Only the wait on the server is timed: while the consumer holds a chunk, the watchdog is off.
        watch.arm('');
        let next: Awaited<ReturnType<typeof reader.read>>;
        try {
          next = await reader.read();
        } finally {
          watch.disarm();
        }
        if (next.done) {
          finished = true;
          return;
        }
        let bytes = next.value;
        if (skip > 0) {
          const n = Math.min(skip, bytes.length);
          skip -= n;
          bytes = bytes.subarray(n);
          if (bytes.length === 0) continue;
        }
        received += bytes.length;
        yield bytes;
      }
    } catch (error) {
      finished = true;
      reader.releaseLock();
      watch.controller.abort(); // drop the connection of the broken or stalled transfer
      await retryOrThrow(`transfer broke after ${received} bytes (${networkReason(watch.why(error), error)})`, error);
    } finally {
      // The consumer stopped early: close the connection instead of leaving the rest of the body unread.
      if (!finished) await reader.cancel().catch(() => undefined);
    }
  }
}

/** undici reports most failures as "fetch failed" with the real one (ECONNREFUSED, a reset) as the cause. */
function networkReason(message: string, error: unknown): string {
  const cause = (error as { cause?: unknown } | undefined)?.cause;
  if (message === 'fetch failed' && cause instanceof Error) {
    const code = (cause as NodeJS.ErrnoException).code;
    return `${message}: ${code && !cause.message.includes(code) ? `${code} ` : ''}${cause.message}`;
  }
  return message;
}
