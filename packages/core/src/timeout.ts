/**
 * Settles like `promise`, unless `ms` pass first: then rejects with `onTimeout()`. The timer
 * is cleared either way, so a settled call keeps no process alive. Adapters use it where a
 * library call can hang (a Kafka commit, a read to the end of a topic) and say in their own
 * error type what a timeout means there (for a commit: outcome unknown, restart).
 */
export async function withTimeout<T>(
  promise: Promise<T>,
  ms: number,
  onTimeout: () => Error,
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => {
          reject(onTimeout());
        }, ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
