import { resolveProjectionRuntimeConfig } from '@tributary/projections';
import { describe, expect, it } from 'vitest';
import { CAPTURE_ENVIRONMENT, captureConfigFromEnvironment } from './capture/environment.js';
import { projectionRuntimeConfigFrom } from './projections/settings.js';

/** One pair of variables sets the replication of every topic capture and projections create. */
describe('topic replication settings of tributary capture and tributary project', () => {
  const env = { TRIBUTARY_TOPIC_REPLICATION_FACTOR: '3', TRIBUTARY_TOPIC_MIN_INSYNC_REPLICAS: '2' };

  it('are read by capture from the environment', () => {
    expect(Object.keys(CAPTURE_ENVIRONMENT)).toEqual(expect.arrayContaining(Object.keys(env)));
    expect(captureConfigFromEnvironment(env).topics).toEqual({
      replicationFactor: 3,
      minInsyncReplicas: 2,
    });
  });

  it('are read by the projection runtime from the same variables or its flags, -1 allowed', () => {
    expect(projectionRuntimeConfigFrom({}, env)).toEqual({
      topicReplicationFactor: 3,
      topicMinInsyncReplicas: 2,
    });
    expect(
      projectionRuntimeConfigFrom(
        { 'topic-replication-factor': '-1', 'topic-min-insync-replicas': '-1' },
        env,
      ),
    ).toEqual({ topicReplicationFactor: -1, topicMinInsyncReplicas: -1 });
  });

  it('refuse 0 or a minimum above the factor with the name of the setting', () => {
    expect(() =>
      projectionRuntimeConfigFrom({}, { TRIBUTARY_TOPIC_REPLICATION_FACTOR: '0' }),
    ).toThrow(
      'TRIBUTARY_TOPIC_REPLICATION_FACTOR must be -1 (the broker default) or a positive integer, not 0',
    );
    expect(() =>
      resolveProjectionRuntimeConfig({ topicReplicationFactor: 2, topicMinInsyncReplicas: 3 }),
    ).toThrow(/topicMinInsyncReplicas.*must not exceed topicReplicationFactor \(2\)/);
    expect(resolveProjectionRuntimeConfig({})).toMatchObject({
      topicReplicationFactor: -1,
      topicMinInsyncReplicas: -1,
    });
  });
});
