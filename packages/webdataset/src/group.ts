// Group consecutive tar members into samples, with the injected error policy; one shard at a time.
// References: webdataset (Python) tariterators.tar_file_expander and group_by_keys.
import { errorMessage, reportProblem, type ErrorHandling } from './errors.js';
import { openShardChunks, type OpenShardOptions } from './open.js';
import { isMetaMember, splitMemberPath, type Sample } from './sample.js';
import type { Stage } from './stages.js';
import { readTarEntries, TarFormatError, type ReadTarOptions, type TarItem } from './tar/reader.js';

export interface TarSamplesOptions extends ErrorHandling, OpenShardOptions, ReadTarOptions {}

/**
 * Read the samples of one tar stream. Members are grouped while consecutive members share a key; a member path
 * without an extension or a root `__meta__` member belongs to no sample. Problems go to the error policy:
 * - a duplicate extension or an over-size member makes its whole sample bad (dropped, reported once);
 * - damage (truncation, corruption, an open/HTTP failure) ends the shard: every sample known to be complete
 *   (the next member's header, with another key, was read intact) is yielded, and a sample in progress whose
 *   completeness cannot be known is dropped and named in the report.
 */
export async function* readTarSamples(
  url: string,
  chunks: AsyncIterable<Uint8Array>,
  options: TarSamplesOptions = {},
): AsyncGenerator<Sample, void, undefined> {
  const problem = (key: string | undefined, reason: string, cause?: unknown) =>
    reportProblem(options, key === undefined ? { url, reason } : { url, key, reason }, cause);
  const entries = readTarEntries(chunks, options);
  let current: Sample | null = null;
  let currentBad = false;
  try {
    for (;;) {
      let next: IteratorResult<TarItem, void>;
      try {
        next = await entries.next();
      } catch (error) {
        // When the damaged member's name is known and starts a new key, the sample before it is complete.
        const damagedKey = error instanceof TarFormatError && error.path !== undefined ? splitMemberPath(error.path)?.key : undefined;
        if (current !== null && !currentBad && damagedKey !== undefined && damagedKey !== current.__key__) {
          const complete: Sample = current;
          current = null;
          yield complete;
        }
        const inProgress = current !== null && !currentBad ? current.__key__ : undefined;
        current = null;
        const dropped = inProgress !== undefined ? `; sample ${JSON.stringify(inProgress)} in progress was dropped` : '';
        problem(inProgress ?? damagedKey, `${errorMessage(error)}${dropped}`, error);
        return;
      }
      if (next.done) break;
      const item = next.value;
      if (isMetaMember(item.path)) continue;
      const split = splitMemberPath(item.path);
      if (split === null) continue;
      if (current === null || split.key !== current.__key__) {
        if (current !== null && !currentBad) yield current;
        current = { __key__: split.key, __url__: url };
        currentBad = false;
      }
      if (currentBad) continue;
      let reason: string | undefined;
      if ('error' in item) reason = item.error;
      else if (split.ext.startsWith('__')) reason = `member ${item.path}: extensions starting with "__" are reserved`;
      else if (Object.hasOwn(current, split.ext)) reason = `duplicate extension "${split.ext}" (member ${item.path})`;
      if (reason !== undefined) {
        currentBad = true;
        problem(split.key, `${reason}; sample dropped`);
        continue;
      }
      current[split.ext] = (item as { data: Uint8Array }).data;
    }
  } finally {
    await entries.return();
  }
  if (current !== null && !currentBad) yield current;
}

/** Stage: shard URLs -> samples, reading each shard as a stream. */
export function tarSamples(options: TarSamplesOptions = {}): Stage<string, Sample> {
  return async function* samples(urls) {
    for await (const url of urls) {
      let chunks: AsyncIterable<Uint8Array>;
      try {
        chunks = openShardChunks(url, options, true);
      } catch (error) {
        reportProblem(options, { url, reason: errorMessage(error) }, error);
        continue;
      }
      yield* readTarSamples(url, chunks, options);
    }
  };
}
