/**
 * The OpenTelemetry adapter of the core's tracing port. It uses `@opentelemetry/api` only,
 * so it records nothing until the application registers an SDK (a `TracerProvider` and a
 * context manager); prom-client already depends on that package, so it costs nothing more.
 */
import {
  context as otelContext,
  type Context,
  type Link,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Tracer as OtelTracer,
  type SpanContext,
  isSpanContextValid,
} from '@opentelemetry/api';
import type { LogFields } from '@tributary/core';
import {
  formatTraceparent,
  parseTraceparent,
  type TraceSpan,
  type TraceSpanKind,
  type Tracer,
} from '@tributary/core';

/** Options of {@link createOpenTelemetryTracer}. */
export interface OpenTelemetryTracerOptions {
  /**
   * The OpenTelemetry tracer to start spans with. Default: `trace.getTracer('tributary')`
   * from the global provider, i.e. whatever SDK the application registered (none: no-op).
   */
  readonly tracer?: OtelTracer;
}

const KINDS: Readonly<Record<TraceSpanKind, SpanKind>> = {
  internal: SpanKind.INTERNAL,
  server: SpanKind.SERVER,
  client: SpanKind.CLIENT,
  producer: SpanKind.PRODUCER,
  consumer: SpanKind.CONSUMER,
};

/** The remote span context a stored or received `traceparent` names, if well-formed. */
function remoteContext(traceparent: string | undefined): SpanContext | undefined {
  const parsed = parseTraceparent(traceparent);
  if (parsed === undefined) return undefined;
  return {
    traceId: parsed.traceId,
    spanId: parsed.spanId,
    traceFlags: parsed.flags,
    isRemote: true,
  };
}

/**
 * A {@link Tracer} on OpenTelemetry: each span is active while its function runs (so
 * instrumented clients — pg, knex, kafkajs — nest under it when the SDK has a context
 * manager), its parent is the given `traceparent` or else the active context, and a
 * stored `traceparent` that does not parse is ignored rather than failing the pipeline.
 */
export function createOpenTelemetryTracer(options: OpenTelemetryTracerOptions = {}): Tracer {
  const tracer = options.tracer ?? trace.getTracer('tributary');
  return {
    enabled: true,
    inSpan(name, spanOptions, fn) {
      const parentSpan = remoteContext(spanOptions.parent);
      const parent: Context =
        parentSpan === undefined
          ? otelContext.active()
          : trace.setSpanContext(ROOT_CONTEXT, parentSpan);
      const links: Link[] = [];
      for (const link of spanOptions.links ?? []) {
        const linked = remoteContext(link);
        if (linked !== undefined) links.push({ context: linked });
      }
      return tracer.startActiveSpan(
        name,
        {
          kind: KINDS[spanOptions.kind ?? 'internal'],
          links,
          ...(spanOptions.attributes === undefined ? {} : { attributes: spanOptions.attributes }),
        },
        parent,
        async (span) => {
          const spanContext = span.spanContext();
          const traced: TraceSpan = {
            traceparent: isSpanContextValid(spanContext)
              ? formatTraceparent({
                  traceId: spanContext.traceId,
                  spanId: spanContext.spanId,
                  flags: spanContext.traceFlags,
                })
              : undefined,
            setAttribute: (key, value) => {
              span.setAttribute(key, value);
            },
            recordError: (error) => {
              span.recordException(error instanceof Error ? error : String(error));
              span.setStatus({
                code: SpanStatusCode.ERROR,
                message: error instanceof Error ? error.message : String(error),
              });
            },
          };
          try {
            return await fn(traced);
          } finally {
            span.end();
          }
        },
      );
    },
  };
}

/**
 * `trace_id` and `span_id` of the span active in `context` (default: the current one), for
 * log lines (`createConsoleLogger({ context: activeTraceFields })`); `undefined` outside a
 * span or while no SDK records.
 */
export function activeTraceFields(context: Context = otelContext.active()): LogFields | undefined {
  const span = trace.getSpan(context);
  if (span === undefined) return undefined;
  const spanContext = span.spanContext();
  if (!isSpanContextValid(spanContext)) return undefined;
  return { trace_id: spanContext.traceId, span_id: spanContext.spanId };
}
