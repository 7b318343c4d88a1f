/** Kafka's default partitioner lives in `@tributary/core` (capture sends records to explicit partitions with it). */
export { murmur2, partitionForKey, toPositive } from '@tributary/core';
