import { describe, expect, it } from 'vitest';
import { createInstrumentation } from './instrumentation.js';

interface Events {
  'capture.batch.committed': { readonly events: number };
  'projection.checkpoint': { readonly offset: string };
}

describe('instrumentation', () => {
  it('delivers typed payloads to listeners until they unsubscribe', () => {
    const instrumentation = createInstrumentation<Events>();
    const seen: number[] = [];
    const off = instrumentation.on('capture.batch.committed', (payload) =>
      seen.push(payload.events),
    );
    instrumentation.emit('capture.batch.committed', { events: 3 });
    off();
    instrumentation.emit('capture.batch.committed', { events: 4 });
    expect(seen).toEqual([3]);
  });

  it('builds a lazy payload only when someone listens', () => {
    const instrumentation = createInstrumentation<Events>();
    let built = 0;
    const payload = (): { offset: string } => {
      built += 1;
      return { offset: '7' };
    };
    instrumentation.emit('projection.checkpoint', payload);
    expect(built).toBe(0);
    expect(instrumentation.hasListeners('projection.checkpoint')).toBe(false);
    instrumentation.on('projection.checkpoint', () => undefined);
    instrumentation.emit('projection.checkpoint', payload);
    expect(built).toBe(1);
  });

  it('reports a throwing listener without breaking the emitter or other listeners', () => {
    const errors: string[] = [];
    const instrumentation = createInstrumentation<Events>((error, name) =>
      errors.push(`${name}: ${(error as Error).message}`),
    );
    const seen: number[] = [];
    instrumentation.on('capture.batch.committed', () => {
      throw new Error('boom');
    });
    instrumentation.on('capture.batch.committed', (payload) => seen.push(payload.events));
    expect(() => instrumentation.emit('capture.batch.committed', { events: 1 })).not.toThrow();
    expect(seen).toEqual([1]);
    expect(errors).toEqual(['capture.batch.committed: boom']);
  });
});
