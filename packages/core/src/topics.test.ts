import { describe, expect, it } from 'vitest';
import { DEFAULT_TOPIC_PREFIX, topicFor } from './topics.js';

describe('topic naming', () => {
  it('names a topic <prefix>.<AggregateType> by default', () => {
    expect(topicFor({ topicPrefix: DEFAULT_TOPIC_PREFIX }, 'Account')).toBe('events.Account');
    expect(topicFor({ topicPrefix: 'bank' }, 'Transfer')).toBe('bank.Transfer');
  });

  it('follows a replacement template, every placeholder occurrence included', () => {
    expect(
      topicFor(
        { topicPrefix: 'p', topicReplacement: '${prefix}-${routedByValue}-${routedByValue}' },
        'X',
      ),
    ).toBe('p-X-X');
  });
});
