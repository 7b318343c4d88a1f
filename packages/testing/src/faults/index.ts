/**
 * Fault injection for tests on the real stack: a TCP proxy the test controls (latency,
 * dropped connections, half-open connections, pauses).
 */
export {
  createTcpFaultProxy,
  type TcpFaultProxy,
  type TcpFaultProxyOptions,
  type TcpProxyMode,
} from './tcp-proxy.js';
export { CRASH_LONG_ENV, crashRunSize, isLongCrashRun, type CrashRunSizes } from './crash-run.js';
