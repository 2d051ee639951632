// A small typed event emitter whose listeners cannot break the emitter.
//
// Node's EventEmitter stops at the first listener that throws and hands the
// exception to the emitter. Here each listener runs on its own: a throw or a
// rejected promise is reported to `onListenerError` and the others still run.
// Listeners run synchronously in registration order; a listener that returns
// a promise is not awaited.

export type Listener<A extends unknown[]> = (...args: A) => unknown;

export class SafeEmitter<M extends { [K in keyof M]: unknown[] }> {
  private readonly listeners = new Map<keyof M, Array<Listener<never[]>>>();

  constructor(private readonly onListenerError: (event: keyof M, err: unknown) => void = () => undefined) {}

  on<K extends keyof M>(event: K, listener: Listener<M[K]>): () => void {
    const list = this.listeners.get(event) ?? [];
    list.push(listener as unknown as Listener<never[]>);
    this.listeners.set(event, list);
    return () => this.off(event, listener);
  }

  once<K extends keyof M>(event: K, listener: Listener<M[K]>): () => void {
    const off = this.on(event, ((...args: M[K]) => {
      off();
      return listener(...args);
    }) as Listener<M[K]>);
    return off;
  }

  off<K extends keyof M>(event: K, listener: Listener<M[K]>): void {
    const list = this.listeners.get(event);
    if (!list) return;
    const i = list.indexOf(listener as unknown as Listener<never[]>);
    if (i !== -1) list.splice(i, 1);
  }

  listenerCount(event: keyof M): number {
    return this.listeners.get(event)?.length ?? 0;
  }

  emit<K extends keyof M>(event: K, ...args: M[K]): void {
    for (const listener of [...(this.listeners.get(event) ?? [])]) {
      try {
        const r = (listener as unknown as Listener<M[K]>)(...args);
        if (r instanceof Promise) r.catch((e: unknown) => this.onListenerError(event, e));
      } catch (e) {
        this.onListenerError(event, e);
      }
    }
  }
}
