import { ConfigError } from './config.ts'

/**
 * Who may do what, from the environment: `CLIENT_TOKENS` (bearer tokens with
 * a scope) and `ADMIN_TOKEN`. Scopes nest: `read` (key reads, status
 * lookups) < `write` (also transactions) < `admin` (also the inspection
 * endpoints and the chaos API).
 */
export type Scope = 'read' | 'write' | 'admin'

export const SCOPE_RANK: Readonly<Record<Scope, number>> = { read: 1, write: 2, admin: 3 }

export interface ScopedToken {
  readonly scope: Scope
  readonly token: string
}

/** No token at all: the node is open (loopback only, see requireTokensOffLoopback). */
export type AccessTokens = readonly ScopedToken[]

/** Shorter tokens are refused: a bearer token is a password that a client sends on every request. */
export const MIN_TOKEN_LENGTH = 16
const TOKEN_PATTERN = /^[\x21-\x7e]+$/

/**
 * `CLIENT_TOKENS="read:TOKEN,write:TOKEN"` and `ADMIN_TOKEN`, each token at
 * least 16 printable ASCII characters, none used twice. An error line never
 * shows a token.
 */
export function parseAccessTokens(clientTokens: string, adminToken: string): AccessTokens {
  const tokens: ScopedToken[] = []
  clientTokens.split(',').map((s) => s.trim()).filter((s) => s !== '').forEach((entry, i) => {
    const colon = entry.indexOf(':')
    const scope = entry.slice(0, colon)
    if (colon < 0 || (scope !== 'read' && scope !== 'write')) {
      throw new ConfigError(`invalid configuration: CLIENT_TOKENS entry ${i + 1} must be read:<token> or write:<token>`)
    }
    tokens.push({ scope, token: checkToken(entry.slice(colon + 1), `CLIENT_TOKENS entry ${i + 1}`) })
  })
  if (adminToken !== '') tokens.push({ scope: 'admin', token: checkToken(adminToken, 'ADMIN_TOKEN') })
  if (new Set(tokens.map((t) => t.token)).size !== tokens.length) throw new ConfigError('invalid configuration: a token appears twice in CLIENT_TOKENS and ADMIN_TOKEN (each must have one scope)')
  return tokens
}

function checkToken(token: string, where: string): string {
  if (token.length < MIN_TOKEN_LENGTH || !TOKEN_PATTERN.test(token)) {
    throw new ConfigError(`invalid configuration: the token of ${where} must be at least ${MIN_TOKEN_LENGTH} printable ASCII characters without spaces (got ${token.length} characters)`)
  }
  return token
}

/** 127.0.0.0/8, ::1 and localhost: only this machine can connect. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host)
}

/**
 * Safe by default: a node that other machines can reach must not be open.
 * `needed` names the variables this node's guarded routes use.
 */
export function requireTokensOffLoopback(host: string, hostVariable: string, tokens: AccessTokens, needed: readonly ('CLIENT_TOKENS' | 'ADMIN_TOKEN')[]): void {
  if (isLoopback(host)) return
  const missing = needed.filter((v) => !tokens.some((t) => (v === 'ADMIN_TOKEN') === (t.scope === 'admin')))
  if (missing.length > 0) {
    throw new ConfigError(`invalid configuration: ${hostVariable}=${host} listens beyond this machine, so ${missing.join(' and ')} must be set (or listen on 127.0.0.1)`)
  }
}
