import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

// Not local-cluster.ts's: unit tests load this, and whatever they load is held to 100% coverage.
const repoRoot = fileURLToPath(new URL('../..', import.meta.url))

/** Certificates as `npm run certs` makes them (scripts/certs.sh, openssl): a CA in `dir` and one per node. */
export function makeCerts(dir: string, ...nodes: string[]): void {
  execFileSync('bash', [join(repoRoot, 'scripts', 'certs.sh'), '--dir', dir, ...nodes], { stdio: 'pipe' })
}

export interface Pem {
  cert: Buffer
  key: Buffer
  ca: Buffer
}

/** A node's certificate and key, and the CA of `dir`. */
export const pemOf = (dir: string, node: string): Pem => ({ cert: readFileSync(join(dir, `${node}.crt`)), key: readFileSync(join(dir, `${node}.key`)), ca: readFileSync(join(dir, 'ca.crt')) })

/** The TLS_* variables of a node whose certificates are in `dir`. */
export const tlsEnv = (dir: string, node: string): Record<string, string> => ({ TLS_CERT: join(dir, `${node}.crt`), TLS_KEY: join(dir, `${node}.key`), TLS_CA: join(dir, 'ca.crt') })
