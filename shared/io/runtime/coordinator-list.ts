import { COORDINATOR_NAME_PATTERN } from '../../core/protocol/tx-id.ts'
import { ConfigError } from './config.ts'

/** COORDINATORS: "c1,c2" → every coordinator's name, in the order given (the same on every node: it gives each its ballots). */
export function parseCoordinators(spec: string): string[] {
  const names = spec.split(',').map((part) => part.trim()).filter(Boolean)
  if (names.length === 0) throw new ConfigError('invalid configuration: COORDINATORS names no coordinator')
  for (const name of names) {
    if (!COORDINATOR_NAME_PATTERN.test(name)) throw new ConfigError(`invalid configuration: COORDINATORS entry "${name}" is not a coordinator name (${COORDINATOR_NAME_PATTERN.source})`)
  }
  if (new Set(names).size !== names.length) throw new ConfigError('invalid configuration: COORDINATORS has a duplicate name')
  return names
}
