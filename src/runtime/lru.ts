// A small least-recently-used map: the caches of plans, parameter buffers and bind groups keep what a
// training loop repeats and drop the oldest beyond their size. Map iteration order is insertion order,
// so re-inserting an entry on use makes the first key the least recently used.
export class LruMap<K, V> {
  readonly #entries = new Map<K, V>();
  readonly #capacity: number;
  readonly #onEvict: ((value: V) => void) | undefined;

  constructor(capacity: number, onEvict?: (value: V) => void) {
    this.#capacity = capacity;
    this.#onEvict = onEvict;
  }

  /** The value for `key`, made by `create` (and the oldest entry evicted past capacity) when absent. */
  getOrCreate(key: K, create: () => V): V {
    let value = this.#entries.get(key);
    if (value !== undefined) {
      this.#entries.delete(key);
    } else {
      value = create();
      if (this.#entries.size >= this.#capacity) {
        const [oldestKey, oldest] = this.#entries.entries().next().value as [K, V];
        this.#entries.delete(oldestKey);
        this.#onEvict?.(oldest);
      }
    }
    this.#entries.set(key, value);
    return value;
  }

  values(): IterableIterator<V> {
    return this.#entries.values();
  }

  clear(): void {
    this.#entries.clear();
  }
}
