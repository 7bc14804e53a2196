import { floorKey } from '../core/participant/version-floor.ts'

const found = new Map<string, string[]>()

/**
 * `count` keys (`<key>.<n>`) whose version floor is `key`'s (found by search,
 * so that no test depends on the hash's values): creates and deletes of
 * them meet on one floor, which a workload of random keys almost never does.
 */
export function bucketTwins(key: string, count: number): string[] {
  const twins = found.get(key) ?? []
  const floor = floorKey(key)
  for (let i = twins.length === 0 ? 0 : Number(twins.at(-1)!.slice(key.length + 1)) + 1; twins.length < count; i++) {
    if (floorKey(`${key}.${i}`) === floor) twins.push(`${key}.${i}`)
  }
  found.set(key, twins)
  return twins.slice(0, count)
}
