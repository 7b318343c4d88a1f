import { InMemoryKafkaLog } from '@tributary/testing';
import { describe, expect, it } from 'vitest';
import { createCapturer, type CaptureRelayConfig, type Capturer } from './capturer.js';
import { captureDefaults, defaultRouterConfig } from './config.js';
import { CaptureError, isCaptureError } from './errors.js';
import { CHECKPOINTS, InMemoryLogSink, row, tx, until } from './pipeline.test.support.js';
import type { CaptureCheckpoint, PublishBatch } from './sink.js';
import type {
  ChangeListener,
  ChangeSource,
  ChangeStream,
  SourceAcquisition,
  SourceIdentification,
  SourceIdentity,
  SourceLag,
} from './source.js';

const config: CaptureRelayConfig = {
  name: 'unit',
  router: defaultRouterConfig,
  batch: { ...captureDefaults.batch, lingerMs: 1 },
  heartbeatIntervalMs: 0,
  standbyRetryMs: 5,
  restartBackoffMs: 5,
  progressIntervalMs: 0,
};

/** A stream that records confirmations and ends when told to. */
class ScriptedStream implements ChangeStream {
  readonly confirmations: bigint[] = [];
  readonly ended: Promise<void>;
  #settle: { resolve: () => void; reject: (error: unknown) => void } | undefined;

  constructor(private readonly calls: string[]) {
    this.ended = new Promise<void>((resolve, reject) => {
      this.#settle = { resolve, reject };
    });
    this.ended.catch(() => undefined);
  }

  get confirmed(): bigint {
    return this.confirmations.at(-1) ?? 0n;
  }

  confirm(position: bigint): void {
    this.confirmations.push(position);
  }

  fail(error: unknown): void {
    this.#settle?.reject(error);
  }

  stop(): Promise<void> {
    this.calls.push('stream.stop');
    this.#settle?.resolve();
    return Promise.resolve();
  }
}

/** A change source whose slot is busy for the first `busyAttempts` attempts. */
class ScriptedSource implements ChangeSource {
  readonly slot = 'slot_x';
  readonly failed = new Promise<never>(() => undefined);
  listener: ChangeListener | undefined;
  stream: ScriptedStream | undefined;

  constructor(
    private readonly calls: string[],
    private busyAttempts = 0,
    private readonly acquireError?: Error,
  ) {}

  prepare(): Promise<void> {
    this.calls.push('source.prepare');
    return Promise.resolve();
  }

  identify(): Promise<SourceIdentification> {
    return Promise.resolve({
      identity: { system: '1', database: 'db', slot: this.slot },
      head: 0xffff_ffffn,
    });
  }

  acquire(listener: ChangeListener): Promise<SourceAcquisition> {
    this.calls.push('source.acquire');
    if (this.acquireError !== undefined) return Promise.reject(this.acquireError);
    if (this.busyAttempts > 0) {
      this.busyAttempts -= 1;
      return Promise.resolve({ acquired: false, activePid: 42 });
    }
    this.listener = listener;
    this.stream = new ScriptedStream(this.calls);
    return Promise.resolve({ acquired: true, stream: this.stream });
  }

  heartbeat(): Promise<void> {
    return Promise.resolve();
  }

  lag(): Promise<SourceLag | undefined> {
    return Promise.resolve(undefined);
  }

  awaitConfirmed(): Promise<void> {
    this.calls.push('source.awaitConfirmed');
    return Promise.resolve();
  }

  close(): Promise<void> {
    this.calls.push('source.close');
    return Promise.resolve();
  }
}

/** The in-memory log sink, recording the relay's calls. */
class RecordingSink extends InMemoryLogSink {
  constructor(
    log: InMemoryKafkaLog,
    private readonly calls: string[],
  ) {
    super(log);
  }

  override prepare(): Promise<void> {
    this.calls.push('sink.prepare');
    return super.prepare();
  }

  override connect(identity?: SourceIdentity): Promise<void> {
    this.calls.push('sink.connect');
    return super.connect(identity);
  }

  override readCheckpoint(): Promise<CaptureCheckpoint | undefined> {
    this.calls.push('sink.readCheckpoint');
    return super.readCheckpoint();
  }

  override publish(batch: PublishBatch): Promise<void> {
    this.calls.push('sink.publish');
    return super.publish(batch);
  }

  override close(): Promise<void> {
    this.calls.push('sink.close');
    return super.close();
  }
}

/** A capturer over `sources` (one per run) and in-memory sinks, all recording into `calls`. */
function relay(calls: string[], sources: ScriptedSource[]) {
  const log = new InMemoryKafkaLog();
  log.createTopic(CHECKPOINTS, { partitions: 1, cleanupPolicy: 'compact' });
  const sinks: RecordingSink[] = [];
  let opened = 0;
  const capturer: Capturer = createCapturer({
    config,
    source: () => {
      const source = sources[opened] as ScriptedSource;
      opened += 1;
      return source;
    },
    sink: () => {
      const sink = new RecordingSink(log, calls);
      sinks.push(sink);
      return sink;
    },
  });
  return { capturer, sinks };
}

describe('the capture relay', () => {
  it('waits as a standby, takes the source, only then fences and reads the checkpoint, and drains on stop', async () => {
    const calls: string[] = [];
    const source = new ScriptedSource(calls, 2);
    const { capturer } = relay(calls, [source]);
    const standby: unknown[] = [];
    capturer.instrumentation.on('capture.standby', (event) => standby.push(event));
    const running = capturer.run();
    await until(() => capturer.state === 'streaming');
    await source.listener?.transaction(tx(0x100, [row('a', 1)]));
    await capturer.stop();
    await running;

    expect(standby).toEqual([{ slot: 'slot_x', activePid: 42 }]);
    expect(source.stream?.confirmations).toEqual([0x110n]);
    expect(calls).toEqual([
      'source.prepare',
      'sink.prepare',
      // The identity check before fencing: a second deployment must not fence the first.
      'sink.readCheckpoint',
      'source.acquire',
      'source.acquire',
      'source.acquire',
      // Fencing only once the source is held, and the checkpoint only after fencing.
      'sink.connect',
      'sink.readCheckpoint',
      'sink.publish',
      'source.awaitConfirmed',
      'stream.stop',
      'sink.close',
      'source.close',
    ]);
    expect(capturer.state).toBe('stopped');
    expect(capturer.publishedEvents).toBe(1);
  });

  it('restarts a failed run with a fresh source and sink, skipping what the checkpoint covers', async () => {
    const calls: string[] = [];
    const first = new ScriptedSource(calls);
    const second = new ScriptedSource(calls);
    const { capturer, sinks } = relay(calls, [first, second]);
    const restarts: string[] = [];
    const skipped: string[] = [];
    capturer.instrumentation.on('capture.pipeline.restarting', ({ error }) => restarts.push(error));
    capturer.instrumentation.on('capture.transaction.skipped', ({ commitLsn }) =>
      skipped.push(commitLsn),
    );
    const running = capturer.run();
    await until(() => capturer.state === 'streaming');
    await first.listener?.transaction(tx(0x100, [row('a', 1)]));
    await until(() => first.stream?.confirmations.length === 1);
    first.stream?.fail(
      new CaptureError('CAPTURE_STREAM_ENDED', 'walsender went away', { retriable: true }),
    );
    await until(() => second.listener !== undefined && capturer.state === 'streaming');
    // The slot resends what was committed but (say) never confirmed.
    await second.listener?.transaction(tx(0x100, [row('a', 1)]));
    await second.listener?.transaction(tx(0x200, [row('a', 2)]));
    await capturer.stop();
    await running;

    expect(restarts).toEqual(['walsender went away']);
    expect(skipped).toEqual(['0/100']);
    expect(sinks).toHaveLength(2);
    expect(sinks[1]?.committedEventIds()).toHaveLength(2);
    expect(second.stream?.confirmations).toEqual([0x110n, 0x210n]);
    expect(capturer.publishedEvents).toBe(2);
  });

  it('halts on a non-retriable error and releases the source and the sink', async () => {
    const calls: string[] = [];
    const lost = new CaptureError('CAPTURE_SLOT_LOST', 'slot gone');
    const { capturer } = relay(calls, [new ScriptedSource(calls, 0, lost)]);
    const stopped: unknown[] = [];
    capturer.instrumentation.on('capture.stopped', (event) => stopped.push(event));
    const error = await capturer.run().then(
      () => undefined,
      (failure: unknown) => failure,
    );
    expect(isCaptureError(error, 'CAPTURE_SLOT_LOST')).toBe(true);
    expect(stopped).toEqual([{ reason: 'halted', error: 'slot gone' }]);
    expect(calls).toEqual([
      'source.prepare',
      'sink.prepare',
      'sink.readCheckpoint',
      'source.acquire',
      'sink.close',
      'source.close',
    ]);
    expect(capturer.state).toBe('stopped');
  });
});
