import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { Failpoints } from '../../shared/io/runtime/failpoints.ts'
import { RebuildError, rebuildReplica } from './rebuild.ts'

const usage = `npm run replica -- rebuild <participant> --from <participant> [options]
Rebuilds a participant whose data directory is gone or corrupt from a live
peer's replica. Stop the participant first (one that found its directory
lost has stopped by itself); start it again afterwards.

  --from <name>       the live participant to copy (its replica is the truth)
  --from-url <url>    its HTTP URL (default: npm start's, http://127.0.0.1:<BASE_PORT + n> for pN)
  --data-dir <dir>    the data directory to rebuild (default: $DATA_DIR, else <DATA_ROOT or data>/<participant>)
  --wait-ms <ms>      how long the source may wait for nothing prepared there (default 5000)
  --force             replace a directory that holds data or cannot be opened
Environment: ADMIN_TOKEN (the source's inspection token), TXN_FAILPOINTS (tests).
Compose: docker compose stop participant-2, then
  docker compose run --rm --no-deps participant-2 replica rebuild p2 --from p1 --from-url http://participant-1:7001`

/** Exit codes: 0 rebuilt, 1 refused or failed (the data directory is as it was), 2 usage. */
async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    // As the image's entry point (role.js replica rebuild …), the role comes first.
    args: process.argv.slice(process.argv[2] === 'replica' ? 3 : 2),
    allowPositionals: true,
    options: {
      from: { type: 'string' },
      'from-url': { type: 'string' },
      'data-dir': { type: 'string' },
      'wait-ms': { type: 'string', default: '5000' },
      force: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  })
  const [command, target] = positionals
  if (values.help || command !== 'rebuild' || target === undefined || values.from === undefined) {
    process.stdout.write(`${usage}\n`)
    return values.help ? 0 : 2
  }
  const from = values.from
  const waitMs = Number(values['wait-ms'])
  if (!Number.isInteger(waitMs) || waitMs < 0 || waitMs > 99999) throw new RebuildError('--wait-ms wants whole milliseconds, 0 to 99999')
  const dataDir = resolve(values['data-dir'] ?? process.env.DATA_DIR ?? join(process.env.DATA_ROOT ?? 'data', target))
  const fromUrl = values['from-url'] ?? localUrl(from)
  const say = (line: string): void => { process.stderr.write(`${line}\n`) }
  say(`rebuilding ${target} (${dataDir}) from ${from} (${fromUrl})`)
  const result = await rebuildReplica({ target, dataDir, from, fromUrl, adminToken: process.env.ADMIN_TOKEN, force: values.force, waitMs, failpoints: new Failpoints(process.env.TXN_FAILPOINTS), say })
  process.stdout.write(`${JSON.stringify({ rebuilt: true, ...result })}\n`)
  say(`${target} rebuilt, identical to ${from}: start it again`)
  return 0
}

/** npm start's ports: BASE_PORT (8080) for the first coordinator, then p1, p2, … */
function localUrl(participant: string): string {
  const n = /^p(\d+)$/.exec(participant)?.[1]
  if (n === undefined) throw new RebuildError(`no default URL for "${participant}": give --from-url`)
  return `http://127.0.0.1:${Number(process.env.BASE_PORT ?? 8080) + Number(n)}`
}

main().then(
  (code) => { process.exitCode = code },
  (err: unknown) => {
    process.stderr.write(`replica rebuild failed: ${err instanceof RebuildError ? err.message : String((err as Error).stack ?? err)}\nThe data directory is as it was.\n`)
    process.exitCode = 1
  },
)
