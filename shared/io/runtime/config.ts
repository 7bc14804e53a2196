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
  checkNumerals(schema, raw, names)
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
    throw new ConfigError(`invalid configuration: ${String(names[field])} ${error.message} (got ${shown(names[field]!, raw[field])})`)
  }
  return Object.freeze(withDefaults)
}

export class ConfigError extends Error {}

const INTEGER = /^-?(0|[1-9][0-9]*)$/

/**
 * Integers are written in decimal digits, as they are read: typebox's
 * conversion alone turned "8080.5" into 8080, "0x1F90" into 8080, "1e3"
 * into 1000 and "true" into 1, so a typo started a node on a value nobody
 * wrote. (No setting is a non-integer number.)
 */
function checkNumerals(schema: TSchema, raw: Record<string, unknown>, names: Record<string, string>): void {
  // Every configuration schema is an object schema.
  const { properties } = schema as unknown as { properties: Record<string, { type?: unknown }> }
  for (const [field, value] of Object.entries(raw)) {
    if (properties[field]?.type === 'integer' && !INTEGER.test(String(value))) {
      throw new ConfigError(`invalid configuration: ${String(names[field])} must be integer (got ${shown(names[field]!, value)})`)
    }
  }
}

/** A value as the error line shows it: a secret (a *TOKEN variable, a URL with credentials in it) is never echoed. */
function shown(variable: string, value: unknown): string {
  if (variable.endsWith('TOKEN')) return `a value of ${String(value).length} characters`
  if (/^[a-z][a-z0-9+.-]*:\/\/[^/]*@/i.test(String(value))) return 'a URL with credentials in it, not shown'
  return JSON.stringify(value)
}
