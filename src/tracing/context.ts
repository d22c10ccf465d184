import { AsyncLocalStorage } from 'node:async_hooks';
import { ROOT_CONTEXT, type Context, type ContextManager } from '@opentelemetry/api';

/**
 * The OTel context manager over AsyncLocalStorage, plus `enter`: Elysia has no hook that wraps
 * the rest of a request in a callback, so the request's span is entered from `onRequest` with
 * `enterWith`, which lasts for that request's own continuations (each request starts from
 * Bun's native call). Code that must not inherit it (the queue's group commit, which serves
 * many requests) runs under `with(ROOT_CONTEXT, ...)` or an explicit context.
 */
export class RequestContextManager implements ContextManager {
  private readonly storage = new AsyncLocalStorage<Context>();

  active(): Context {
    return this.storage.getStore() ?? ROOT_CONTEXT;
  }

  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(context: Context, fn: F, thisArg?: ThisParameterType<F>, ...args: A): ReturnType<F> {
    return this.storage.run(context, fn.bind(thisArg as never) as never, ...args) as ReturnType<F>;
  }

  /** Makes `context` active for the rest of the current call and everything it schedules. */
  enter(context: Context): void {
    this.storage.enterWith(context);
  }

  bind<T>(context: Context, target: T): T {
    if (typeof target !== 'function') return target;
    const manager = this;
    return function (this: unknown, ...args: unknown[]) {
      return manager.with(context, () => (target as (...a: unknown[]) => unknown).apply(this, args));
    } as T;
  }

  enable(): this {
    return this;
  }

  disable(): this {
    this.storage.disable();
    return this;
  }
}
