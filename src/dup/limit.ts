// Bounded concurrency: the agent runs up to 16 requests at once and every start is two Wine
// processes, so a few hundred starts at once would only queue in Wine and in the agent.

/** How many duplicates start at once (startMany, `svcdup up`, the density benchmark). */
export const START_CONCURRENCY = 8;

/** fn over items, at most `limit` at once; results in the order of items. Rejects with the first failure, after all have settled. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  let failure: { err: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      try {
        out[i] = await fn(items[i]!, i);
      } catch (err) {
        failure ??= { err };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  if (failure) throw failure.err;
  return out;
}
