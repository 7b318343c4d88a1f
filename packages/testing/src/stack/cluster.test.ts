import { describe, expect, it } from 'vitest';
import { brokersFlag, clusterStackOptions } from './cluster-cli.js';
import { clusterNodeProperties, clusterReplication } from './cluster.js';
import { resolveStackConfig } from './config.js';
import { isStackError } from './errors.js';

const lines = (text: string): string[] => text.split('\n');

describe('the multi-broker stack', () => {
  it('replicates three ways with min ISR 2 on three nodes, and never more than the nodes hold', () => {
    expect(clusterReplication(3)).toEqual({ replicationFactor: 3, minInsyncReplicas: 2 });
    expect(clusterReplication(2)).toEqual({ replicationFactor: 2, minInsyncReplicas: 1 });
    expect(clusterReplication(5)).toEqual({ replicationFactor: 3, minInsyncReplicas: 2 });
  });

  it('gives each node its own id and ports, one voter list, and replicated internal topics', () => {
    const kafka = resolveStackConfig({ repoRoot: '/repo' }, {}).kafka;
    const all = [1, 2, 3].map((nodeId) => ({
      nodeId,
      brokerPort: 9000 + nodeId,
      controllerPort: 9100 + nodeId,
    }));
    const second = lines(clusterNodeProperties(kafka, all[1] as (typeof all)[1], all, '/d/2'));
    expect(second).toContain('node.id=2');
    expect(second).toContain('process.roles=broker,controller');
    expect(second).toContain(
      'controller.quorum.voters=1@127.0.0.1:9101,2@127.0.0.1:9102,3@127.0.0.1:9103',
    );
    expect(second).toContain('listeners=PLAINTEXT://127.0.0.1:9002,CONTROLLER://127.0.0.1:9102');
    expect(second).toContain('advertised.listeners=PLAINTEXT://127.0.0.1:9002');
    expect(second).toContain('log.dirs=/d/2');
    for (const line of [
      'default.replication.factor=3',
      'min.insync.replicas=2',
      'offsets.topic.replication.factor=3',
      'transaction.state.log.replication.factor=3',
      'transaction.state.log.min.isr=2',
    ]) {
      expect(second).toContain(line);
    }
  });

  it('reads --brokers, keeps one broker on the plain stack and names a cluster stack apart', () => {
    expect(brokersFlag([])).toBeUndefined();
    expect(brokersFlag(['--brokers', '3'])).toBe(3);
    expect(brokersFlag(['--brokers=3'])).toBe(3);
    expect(clusterStackOptions(1)).toEqual({});
    expect(clusterStackOptions(3)).toEqual({ name: 'brokers-3', kafka: { brokers: 3 } });
    expect(
      resolveStackConfig({ repoRoot: '/r' }, { TRIBUTARY_STACK_BROKERS: '3' }).kafka.brokers,
    ).toBe(3);
    expect(resolveStackConfig({ repoRoot: '/r' }, {}).kafka.brokers).toBe(1);
    for (const bad of [
      ['--brokers'],
      ['--brokers', '0'],
      ['--brokers', 'three'],
      ['--brokers=1.5'],
    ]) {
      let thrown: unknown;
      try {
        brokersFlag(bad);
      } catch (error) {
        thrown = error;
      }
      expect(isStackError(thrown) && thrown.code, bad.join(' ')).toBe('STACK_CONFIG_INVALID');
      expect(String(thrown)).toMatch(/--brokers must be a whole number from 1 to 9/);
    }
  });
});
