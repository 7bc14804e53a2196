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
    const first = validator.Errors(withDefaults)[0]
    const params = (first?.params ?? {}) as { requiredProperties?: string[] }
    const missing = params.requiredProperties
    if (first?.keyword === 'required' && missing) {
      throw new ConfigError(`invalid configuration: ${missing.map((f) => names[f] ?? f).join(', ')} must be set`)
    }
    const field = first?.instancePath.replace(/^\//, '') ?? ''
    const variable = names[field] ?? field
    throw new ConfigError(`invalid configuration: ${variable} ${first?.message ?? 'is invalid'} (got ${JSON.stringify(raw[field])})`)
  }
  return Object.freeze(withDefaults)
}

export class ConfigError extends Error {}

/** Run a service's main; a bad configuration exits with one clear line. */
export function runMain(main: () => Promise<void>): void {
  main().catch((err: unknown) => {
    if (err instanceof ConfigError || (err instanceof Error && err.message.startsWith('TXN_FAILPOINTS'))) {
      process.stderr.write(`${err.message}\n`)
    } else {
      process.stderr.write(`fatal: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`)
    }
    process.exit(1)
  })
}
