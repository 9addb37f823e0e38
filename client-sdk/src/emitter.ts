/** A small typed event emitter that behaves the same in browsers and Node. */
export interface Emitter<Events extends { [K in keyof Events]: unknown }> {
  /** Adds a handler; returns its removal. */
  on<K extends keyof Events>(event: K, fn: (payload: Events[K]) => void): () => void
  /** Calls every handler of `event`; a handler that throws does not stop the others (nor the caller). */
  emit<K extends keyof Events>(event: K, payload: Events[K]): void
  /** Removes every handler. */
  clear(): void
}

export function createEmitter<Events extends { [K in keyof Events]: unknown }>(): Emitter<Events> {
  const handlers = new Map<keyof Events, Set<(payload: never) => void>>()
  return {
    on<K extends keyof Events>(event: K, fn: (payload: Events[K]) => void): () => void {
      let set = handlers.get(event)
      if (!set) {
        set = new Set()
        handlers.set(event, set)
      }
      set.add(fn as (payload: never) => void)
      return () => set.delete(fn as (payload: never) => void)
    },
    emit<K extends keyof Events>(event: K, payload: Events[K]): void {
      for (const fn of handlers.get(event) ?? []) {
        try {
          ;(fn as (p: Events[K]) => void)(payload)
        } catch {
          // A listener's bug must not stop playback.
        }
      }
    },
    clear(): void {
      handlers.clear()
    },
  }
}
