/**
 * Runs `action` now and turns its result or exception into a settled promise. Client
 * methods are promise-returning like kafkajs, but take effect synchronously at call time,
 * so the order of calls is the order of effects.
 */
export function attempt<T>(action: () => T): Promise<T> {
  try {
    return Promise.resolve(action());
  } catch (error) {
    return Promise.reject(error instanceof Error ? error : new Error(String(error)));
  }
}
