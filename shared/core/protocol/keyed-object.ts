/**
 * Maps keyed by user input (keys, client ids) live in `Map`s. Where one has to
 * be a JSON object (a message, a record on disk, an HTTP answer), it is built
 * here without a prototype: on a plain object, `o['__proto__'] = v` sets the
 * prototype instead of an entry, and `constructor` or `toString` read as
 * inherited functions. JSON.parse makes own properties of every name, so
 * objects read off the wire or the disk are safe to read with Object.entries.
 */
export function objectFromMap<V>(map: ReadonlyMap<string, V>): Record<string, V> {
  const o = Object.create(null) as Record<string, V>
  for (const [k, v] of map) o[k] = v
  return o
}

/** The own entries of a JSON object (never its prototype's) as a Map. */
export function mapFromObject<V>(o: Readonly<Record<string, V>> | undefined): Map<string, V> {
  return new Map(o === undefined ? [] : Object.entries(o))
}

/** An empty object keyed by user input. */
export function keyedObject<V>(): Record<string, V> {
  return Object.create(null) as Record<string, V>
}

/** `o[key]` if `o` has it as its own property: never an inherited member such as `toString`. */
export function ownValue<V>(o: Readonly<Record<string, V>> | undefined, key: string): V | undefined {
  return o !== undefined && Object.hasOwn(o, key) ? o[key] : undefined
}
