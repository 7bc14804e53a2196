/**
 * The bearer token a script sends, from its own environment: `ADMIN_TOKEN`
 * for the chaos API and the participants' inspection endpoints,
 * `CLIENT_TOKEN` (one of the coordinators' CLIENT_TOKENS, or ADMIN_TOKEN)
 * for the client API. Unset: no header, as a node without tokens expects.
 */
export function authHeaders(kind: 'admin' | 'client', env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const token = kind === 'admin' ? env.ADMIN_TOKEN : env.CLIENT_TOKEN ?? env.ADMIN_TOKEN
  return token === undefined || token === '' ? {} : { authorization: `Bearer ${token}` }
}
