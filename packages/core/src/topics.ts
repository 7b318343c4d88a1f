/**
 * Topic naming, shared by the capturer (which routes outbox rows to topics) and the
 * projection runtime (which subscribes to them): both must compute the same name from the
 * same settings, so the rule lives here once.
 */

/** Default prefix of every event topic: `events.<AggregateType>`. */
export const DEFAULT_TOPIC_PREFIX = 'events';

/**
 * Default topic template: `${prefix}` is the topic prefix, `${routedByValue}` the value of
 * the routing column (the aggregate type by default), as in Debezium's outbox event router.
 */
export const DEFAULT_TOPIC_REPLACEMENT = '${prefix}.${routedByValue}';

/** The settings that name an event topic. */
export interface TopicNaming {
  /** Prefix of every event topic; see {@link DEFAULT_TOPIC_PREFIX}. */
  readonly topicPrefix: string;
  /** Topic template; default {@link DEFAULT_TOPIC_REPLACEMENT}. */
  readonly topicReplacement?: string;
}

/** The topic of a routed-by value (an aggregate type unless routing says otherwise). */
export function topicFor(naming: TopicNaming, routedByValue: string): string {
  return (naming.topicReplacement ?? DEFAULT_TOPIC_REPLACEMENT)
    .replaceAll('${prefix}', naming.topicPrefix)
    .replaceAll('${routedByValue}', routedByValue);
}
