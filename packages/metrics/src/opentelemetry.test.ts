import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { noopTracer } from '@tributary/core';
import { describe, expect, it } from 'vitest';
import { ROOT_CONTEXT, trace } from '@opentelemetry/api';
import { activeTraceFields, createOpenTelemetryTracer } from './opentelemetry.js';

const PARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

function recording() {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  return { exporter, tracer: createOpenTelemetryTracer({ tracer: provider.getTracer('t') }) };
}

describe('createOpenTelemetryTracer', () => {
  it('records nothing and has no context of its own while no SDK is registered', async () => {
    const tracer = createOpenTelemetryTracer();
    expect(
      await tracer.inSpan('root', {}, (span) => Promise.resolve(span.traceparent)),
    ).toBeUndefined();
    // A no-op span carries its parent's context, so an incoming traceparent is kept as is.
    expect(
      await tracer.inSpan('child', { parent: PARENT }, (span) => Promise.resolve(span.traceparent)),
    ).toBe(PARENT);
    expect(
      await noopTracer.inSpan('x', { parent: PARENT }, (span) => Promise.resolve(span.traceparent)),
    ).toBe(undefined);
  });

  it('makes the given traceparent the parent and reports its own context', async () => {
    const { exporter, tracer } = recording();
    const own = await tracer.inSpan('child', { parent: PARENT, kind: 'consumer' }, (span) => {
      span.setAttribute('k', 1);
      return Promise.resolve(span.traceparent);
    });
    const [span] = exporter.getFinishedSpans();
    expect(span?.spanContext().traceId).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(span?.parentSpanContext?.spanId).toBe('00f067aa0ba902b7');
    expect(span?.attributes['k']).toBe(1);
    expect(own).toBe(`00-4bf92f3577b34da6a3ce929d0e0e4736-${span?.spanContext().spanId}-01`);
  });

  it('ignores malformed parents and links instead of failing, and records errors', async () => {
    const { exporter, tracer } = recording();
    const failure = await tracer
      .inSpan('bad', { parent: 'not-a-traceparent', links: ['00-00-00-00', PARENT] }, (span) => {
        span.recordError(new Error('boom'));
        return Promise.reject(new Error('boom'));
      })
      .catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(Error);
    const [span] = exporter.getFinishedSpans();
    expect(span?.parentSpanContext).toBeUndefined();
    expect(span?.links.map((link) => link.context.spanId)).toEqual(['00f067aa0ba902b7']);
    expect(span?.status.message).toBe('boom');
    expect(span?.ended).toBe(true);
  });
});

describe('activeTraceFields', () => {
  it('names the trace and span of the active span, and nothing outside one', () => {
    const provider = new BasicTracerProvider();
    const span = provider.getTracer('t').startSpan('s');
    const fields = activeTraceFields(trace.setSpan(ROOT_CONTEXT, span));
    expect(fields).toEqual({
      trace_id: span.spanContext().traceId,
      span_id: span.spanContext().spanId,
    });
    expect(fields?.['trace_id']).toMatch(/^[0-9a-f]{32}$/);
    expect(activeTraceFields(ROOT_CONTEXT)).toBeUndefined();
    span.end();
  });
});
