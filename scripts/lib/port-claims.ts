import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/*
 * Ports handed out to test and bench clusters, claimed across the processes
 * of one machine (see local-cluster.ts's freePort): a file per port, created
 * exclusively, holding the pid of the process that claimed it.
 */

/** Where ports handed out by any process of this machine are claimed (one file per port). */
export const PORT_CLAIMS = join(tmpdir(), 'txn-port-claims')

/** Claims `port` for this process: false if a live process holds the claim. */
export function claimPort(port: number, claims = PORT_CLAIMS): boolean {
  mkdirSync(claims, { recursive: true })
  const file = join(claims, String(port))
  try {
    writeFileSync(file, String(process.pid), { flag: 'wx' })
    return true
  } catch {
    const owner = Number(readFileSync(file, 'utf8'))
    // Empty: its claimant is writing it right now.
    if (!Number.isInteger(owner) || owner <= 0) return false
    if (owner === process.pid) return true
    if (isAlive(owner)) return false
    // The claimant is gone: take the claim over. Two processes that find the same dead claim at the same moment
    // could both read their own pid back; the port's bind check (canListen) and that rarity are what is left.
    writeFileSync(file, String(process.pid))
    return Number(readFileSync(file, 'utf8')) === process.pid
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    // EPERM: alive, another user's.
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}
