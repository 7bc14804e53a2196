import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { nodeArgs, repoRoot } from '../../scripts/lib/local-cluster.ts'

/**
 * A node run under `strace -f`, so that a test can see, from the kernel's
 * side, what reached the disk and when it was synced, and when each message
 * left on a socket. SIGKILL keeps the page cache: only this shows that a
 * required fsync happened before an answer left.
 */
export function spawnTraced(role: 'coordinator' | 'participant', env: NodeJS.ProcessEnv, traceFile: string): ChildProcess {
  const nodeEnv = { ...process.env, ...env }
  delete nodeEnv.NODE_OPTIONS
  delete nodeEnv.NODE_V8_COVERAGE
  const args = ['-f', '-tt', '-qq', '-yy', '-s', '4096', '-e', 'trace=write,writev,pwrite64,fdatasync,fsync,sync_file_range', '-o', traceFile, process.execPath, ...nodeArgs(role)]
  return spawn('strace', args, { cwd: repoRoot, env: nodeEnv, stdio: ['ignore', 'ignore', 'pipe'] })
}

/** One system call: when it was made (line order), on what file or socket, with what data, and when it returned. */
export interface Syscall {
  /** Line index of the call (its start). */
  start: number
  /** Line index of its return (the same line unless it was interrupted by another thread's line). */
  end: number
  name: string
  /** The file or socket, as strace -yy names it: a path, or TCP:[a->b]. */
  target: string
  /** The bytes written (strace's escaped form), empty for syncs. */
  data: string
  ok: boolean
}

const CALL = /^(\d+)\s+[\d:.]+\s+(\w+)\((\d+)<([^>]*)>(.*)$/
const RESUMED = /^(\d+)\s+[\d:.]+\s+<\.\.\. (\w+) resumed>.*=\s*(-?\d+)/

/** Parses `strace -f -tt -yy` output into calls, pairing interrupted calls with their return. */
export function parseTrace(file: string): Syscall[] {
  const calls: Syscall[] = []
  const open = new Map<string, Syscall>()
  for (const [index, line] of readFileSync(file, 'utf8').split('\n').entries()) {
    const call = CALL.exec(line)
    if (call) {
      const [, pid, name, , target, rest] = call as unknown as [string, string, string, string, string, string]
      const unfinished = rest.endsWith('<unfinished ...>')
      const result = /\)\s*=\s*(-?\d+)/.exec(rest)
      const syscall: Syscall = { start: index, end: index, name, target, data: rest, ok: unfinished || (result !== null && Number(result[1]) >= 0) }
      calls.push(syscall)
      if (unfinished) open.set(`${pid}:${name}`, syscall)
      continue
    }
    const resumed = RESUMED.exec(line)
    if (resumed) {
      const [, pid, name, result] = resumed as unknown as [string, string, string, string]
      const syscall = open.get(`${pid}:${name}`)
      if (!syscall) continue
      open.delete(`${pid}:${name}`)
      syscall.end = index
      syscall.ok = Number(result) >= 0
    }
  }
  return calls
}

const isSync = (c: Syscall): boolean => c.name === 'fdatasync' || c.name === 'fsync'
const isLog = (c: Syscall): boolean => /\/\d+\.log$/.test(c.target)
const isWrite = (c: Syscall): boolean => c.name === 'write' || c.name === 'writev' || c.name === 'pwrite64'

/**
 * For a message that left on a socket: the write to the LevelDB log that
 * holds `record`, and the first sync of that log that returned after it.
 * Durable before the message: the sync returned before the message's write began.
 */
export function durableBefore(calls: readonly Syscall[], record: (data: string) => boolean, message: (data: string) => boolean): { recordAt?: number; syncedAt?: number; sentAt?: number; durableBeforeSent: boolean } {
  const recordWrite = calls.find((c) => isWrite(c) && isLog(c) && c.ok && record(c.data))
  const sent = calls.find((c) => isWrite(c) && c.target.startsWith('TCP:') && message(c.data))
  const sync = recordWrite && calls.find((c) => isSync(c) && c.target === recordWrite.target && c.ok && c.start > recordWrite.end)
  const out: { recordAt?: number; syncedAt?: number; sentAt?: number; durableBeforeSent: boolean } = { durableBeforeSent: false }
  if (recordWrite) out.recordAt = recordWrite.start
  if (sync) out.syncedAt = sync.end
  if (sent) out.sentAt = sent.start
  out.durableBeforeSent = recordWrite !== undefined && sync !== undefined && sent !== undefined && sync.end < sent.start
  return out
}

/** How many times the kernel was asked to sync a LevelDB log (the write-ahead log; not MANIFEST or the directory). */
export function logSyncs(calls: readonly Syscall[]): number {
  return calls.filter((c) => isSync(c) && isLog(c) && c.ok).length
}
