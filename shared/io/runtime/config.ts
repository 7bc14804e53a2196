import type { TSchema, Static } from 'typebox'
import { Compile } from 'typebox/compile'
import Value from 'typebox/value'

/**
 * Reads configuration from environment variables against a schema: converts
 * strings to numbers, fills defaults, rejects unknown or bad values with one
 * clear line, and freezes the result.
 */
export function loadConfig<S extends TSchema>(schema: S, env: NodeJS.ProcessEnv, names: Record<string, string>): Readonly<Static<S>> {
  const raw: Record<string, unknown> = {}
  for (const [field, variable] of Object.entries(names)) {
    const value = env[variable]
    if (value !== undefined && value !== '') raw[field] = value
  }
  const withDefaults = Value.Default(schema, Value.Convert(schema, raw))
  const validator = Compile(schema)
  if (!validator.Check(withDefaults)) {
    const [first] = validator.Errors(withDefaults) // a failed Check always has at least one error
    const error = first!
    if (error.keyword === 'required') {
      const missing = error.params.requiredProperties
      throw new ConfigError(`invalid configuration: ${missing.map((f) => String(names[f])).join(', ')} must be set`)
    }
    const field = error.instancePath.slice(1)
    throw new ConfigError(`invalid configuration: ${String(names[field])} ${error.message} (got ${JSON.stringify(raw[field])})`)
  }
  return Object.freeze(withDefaults)
}

export class ConfigError extends Error {}
