/**
 * The tracing port: spans around a command, its append, capture's Kafka transaction and a
 * projection's apply, with the W3C `traceparent` as the only thing that crosses process
 * boundaries (stored in event metadata, carried as a record header). The core names no
 * tracing library; `createOpenTelemetryTracer` (@tributary/metrics) adapts OpenTelemetry.
 */

/** What a span is to the systems around it (OpenTelemetry's span kinds). */
export type TraceSpanKind = 'internal' | 'server' | 'client' | 'producer' | 'consumer';

/** Attribute values a span accepts. */
export type TraceAttributes = Readonly<Record<string, string | number | boolean>>;

/** How to start a span. */
export interface TraceSpanOptions {
  readonly kind?: TraceSpanKind;
  /**
   * The parent, as a W3C `traceparent`. Absent: the tracer's ambient context (e.g. the
   * OpenTelemetry context active where the command was executed). A malformed value is
   * ignored, never an error: a bad header must not stop a pipeline.
   */
  readonly parent?: string;
  /** Contexts this span relates to without being their child (a batch of many traces). */
  readonly links?: readonly string[];
  readonly attributes?: TraceAttributes;
}

/** A started span. */
export interface TraceSpan {
  /**
   * This span's W3C `traceparent`, `undefined` when nothing records (no tracer installed):
   * callers keep the context they were given then.
   */
  readonly traceparent: string | undefined;
  setAttribute(key: string, value: string | number | boolean): void;
  /** Marks the span failed with this error. */
  recordError(error: unknown): void;
}

/** Starts spans; the span is the active context while `fn` runs and ends when it settles. */
export interface Tracer {
  /** False for the no-op tracer, so hot loops skip building span options at all. */
  readonly enabled: boolean;
  inSpan<T>(
    name: string,
    options: TraceSpanOptions,
    fn: (span: TraceSpan) => Promise<T>,
  ): Promise<T>;
}

const noopSpan: TraceSpan = {
  traceparent: undefined,
  setAttribute: () => undefined,
  recordError: () => undefined,
};

/** The default tracer: runs `fn` and records nothing. */
export const noopTracer: Tracer = {
  enabled: false,
  inSpan: (_name, _options, fn) => fn(noopSpan),
};

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** The parts of a W3C `traceparent`. */
export interface ParsedTraceparent {
  readonly traceId: string;
  readonly spanId: string;
  /** The trace flags byte (bit 0: sampled). */
  readonly flags: number;
}

/**
 * Parses a W3C `traceparent` (version 00 layout); `undefined` for anything else, including
 * the all-zero ids the specification declares invalid.
 */
export function parseTraceparent(value: string | undefined): ParsedTraceparent | undefined {
  if (value === undefined) return undefined;
  const match = TRACEPARENT.exec(value.trim().toLowerCase());
  if (match === null) return undefined;
  const [, version, traceId, spanId, flags] = match as unknown as [
    string,
    string,
    string,
    string,
    string,
  ];
  if (version === 'ff' || /^0+$/.test(traceId) || /^0+$/.test(spanId)) return undefined;
  return { traceId, spanId, flags: Number.parseInt(flags, 16) };
}

/** Formats a W3C `traceparent` (version 00). */
export function formatTraceparent(parts: ParsedTraceparent): string {
  return `00-${parts.traceId}-${parts.spanId}-${(parts.flags & 0xff).toString(16).padStart(2, '0')}`;
}
