/**
 * kafkajs 2.2.4 groups the messages of a send by partition with
 * `Object.assign(result, { [partition]: [...current, message] })` for every message:
 * quadratic in the messages per partition. A capture request holds ~1,500 records of one
 * partition (one produce request per partition, cut at ~900 KiB), so kafkajs copied ~1.1
 * million array slots per request and left as much garbage (bench:capture profile: 3.6 % of
 * the capturer's busy time in that function alone, plus collection). This replaces the
 * module with a linear grouping that returns the same object.
 *
 * Installation works through the CommonJS module cache and must happen before kafkajs's
 * `sendMessages` module is loaded (it keeps its own reference): this module installs
 * itself when it is evaluated, and the client imports it before anything imports kafkajs.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

const GROUP_MODULE = require.resolve('kafkajs/src/producer/groupMessagesPerPartition.js');
const SEND_MODULE = require.resolve('kafkajs/src/producer/sendMessages.js');

/** What kafkajs passes to its grouping. */
export interface GroupingInput<M> {
  readonly topic: string;
  readonly partitionMetadata: readonly unknown[];
  readonly messages: readonly M[];
  readonly partitioner: (args: {
    topic: string;
    partitionMetadata: readonly unknown[];
    message: M;
  }) => number;
}

/** kafkajs's `groupMessagesPerPartition`, in linear time: partition → its messages in order. */
export function groupMessagesPerPartition<M>({
  topic,
  partitionMetadata,
  messages,
  partitioner,
}: GroupingInput<M>): Record<number, M[]> {
  const result: Record<number, M[]> = {};
  if (partitionMetadata.length === 0) return result;
  for (const message of messages) {
    const partition = partitioner({ topic, partitionMetadata, message });
    const current = result[partition];
    if (current === undefined) result[partition] = [message];
    else current.push(message);
  }
  return result;
}

function install(): boolean {
  const cache = require.cache;
  // kafkajs's producer already holds its own grouping.
  if (cache[SEND_MODULE] !== undefined) return false;
  require(GROUP_MODULE);
  const module = cache[GROUP_MODULE];
  if (module === undefined) return false;
  module.exports = groupMessagesPerPartition;
  return true;
}

/** Whether kafkajs groups with {@link groupMessagesPerPartition} in this process. */
export const linearGroupingInstalled: boolean = install();
