/**
 * @packageDocumentation
 * The Kafka client port of `@tributary/core` on @platformatic/kafka 1.x: the only package
 * that imports @platformatic/kafka. Create one client per process with
 * {@link createPlatformaticKafkaClient} and hand it to the capturer, the projection runtime
 * and the tools, exactly as the kafkajs client.
 */
export { createPlatformaticKafkaClient, type PlatformaticKafkaClientOptions } from './client.js';
