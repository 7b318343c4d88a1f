import type { StackConfig } from './config.js';
import type { ManagedProcess } from './processes.js';
import type { ServiceState } from './state.js';

/** What a server's start function gets from the launcher. */
export interface ServiceStartContext {
  readonly config: StackConfig;
  /** This stack's run directory; the server puts its data dir and log under it. */
  readonly runDir: string;
  /** Progress messages for humans (stderr in the CLI). */
  readonly log: (message: string) => void;
  /**
   * Called as soon as a server process exists, before it is ready, so that a failed or
   * interrupted start can still stop it.
   */
  readonly track: (process: ManagedProcess, stopSignal: NodeJS.Signals) => void;
}

/** A started, ready server and how to reach it. */
export interface StartedService<TConnection> {
  /** The launcher adds `readySeconds`. */
  readonly state: Omit<ServiceState, 'readySeconds'>;
  readonly connection: TConnection;
}
