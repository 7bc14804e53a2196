import { readFileSync } from 'node:fs'
import { createSecureContext } from 'node:tls'
import { ConfigError } from './config.ts'

/** A node's certificate and key, and the CA its peers' certificates must come from (PEM). */
export interface TlsMaterial {
  readonly cert: Buffer
  readonly key: Buffer
  readonly ca: Buffer
}

/**
 * `TLS_CERT`, `TLS_KEY` and `TLS_CA` (file paths): all three turn TLS on,
 * none leaves it off, anything in between is refused. The files are read and
 * checked at start-up (a certificate with its own key, a CA that parses), so
 * that a typo stops the node with one line instead of failing its first
 * handshake.
 */
export function loadTls(paths: { cert: string; key: string; ca: string }): TlsMaterial | undefined {
  const set = Object.values(paths).filter((p) => p !== '').length
  if (set === 0) return undefined
  if (set < 3) throw new ConfigError('invalid configuration: TLS_CERT, TLS_KEY and TLS_CA must be set together (or none of them)')
  const material = { cert: read(paths.cert, 'TLS_CERT'), key: read(paths.key, 'TLS_KEY'), ca: read(paths.ca, 'TLS_CA') }
  try {
    createSecureContext(material)
  } catch (err) {
    throw new ConfigError(`invalid configuration: TLS_CERT, TLS_KEY and TLS_CA are not a certificate, its key and a CA (${(err as Error).message})`)
  }
  return material
}

function read(path: string, variable: string): Buffer {
  try {
    return readFileSync(path)
  } catch (err) {
    throw new ConfigError(`invalid configuration: ${variable} cannot be read (${String((err as NodeJS.ErrnoException).code)}: ${path})`)
  }
}

/** With TLS on, a peer link is always dialled encrypted: ws:// becomes wss:// (and http:// https://). */
export function secureUrl(url: string, tls: TlsMaterial | undefined): string {
  if (!tls) return url
  const u = new URL(url)
  if (u.protocol === 'ws:') u.protocol = 'wss:'
  if (u.protocol === 'http:') u.protocol = 'https:'
  return u.toString()
}
