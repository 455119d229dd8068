// Run an async function over items with bounded concurrency, yielding results in input order.

/**
 * Map `fn` over `items`, at most `concurrency` calls in flight, results in input order. A failure surfaces when
 * its turn comes. Stopping the iteration stops launching new calls.
 */
export async function* mapOrdered<T, R>(items: Iterable<T>, concurrency: number, fn: (item: T, index: number) => Promise<R>): AsyncGenerator<R> {
  const source = items[Symbol.iterator]();
  const pending: Promise<R>[] = [];
  let index = 0;
  const launch = (): boolean => {
    const next = source.next();
    if (next.done) return false;
    const promise = fn(next.value, index++);
    promise.catch(() => undefined); // observed when its turn comes; avoids an unhandled-rejection warning meanwhile
    pending.push(promise);
    return true;
  };
  while (pending.length < concurrency && launch());
  while (pending.length > 0) {
    const result = await pending.shift()!;
    launch();
    yield result;
  }
}
