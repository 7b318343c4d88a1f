import 'reflect-metadata';
import { describe, expect, it } from 'vitest';
import { injectable, container } from 'tsyringe';

@injectable()
class Dep { value = 42; }
@injectable()
class Svc { constructor(readonly dep: Dep) {} }

describe('swc', () => {
  it('emits decorator metadata', () => {
    expect(container.resolve(Svc).dep.value).toBe(42);
  });
});
