/** A pending stop request, see {@link listenForStopSignals}. */
export interface StopSignals {
  /** Resolves with the first SIGTERM or SIGINT received. */
  readonly received: Promise<NodeJS.Signals>;
  /** Removes the handlers (once the command has finished). */
  dispose(): void;
}

/**
 * Turns the first SIGTERM or SIGINT into a graceful stop. Later signals are ignored instead
 * of falling back to Node's default (death by signal, exit code 143 or 130): npx, npm, tsx
 * and init systems forward to their child the very signal that a process-group kill (as
 * systemd, container runtimes and a terminal's Ctrl-C send it) already delivered to it, so
 * a second signal usually arrives while the first stop is still finishing its transaction.
 */
export function listenForStopSignals(onSignal?: (signal: NodeJS.Signals) => void): StopSignals {
  let first: NodeJS.Signals | undefined;
  let resolve: (signal: NodeJS.Signals) => void = () => undefined;
  const received = new Promise<NodeJS.Signals>((done) => {
    resolve = done;
  });
  const handler = (signal: NodeJS.Signals): void => {
    if (first !== undefined) return;
    first = signal;
    onSignal?.(signal);
    resolve(signal);
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
  return {
    received,
    dispose() {
      process.off('SIGTERM', handler);
      process.off('SIGINT', handler);
    },
  };
}
