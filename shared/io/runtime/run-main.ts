import { CorruptRecordError } from '../../core/protocol/record-reader.ts'
import { ConfigError } from './config.ts'

/** Run a service's main; a bad configuration or a corrupt record on disk exits with one clear line. */
export function runMain(main: () => Promise<void>): void {
  main().catch((err: unknown) => {
    if (err instanceof ConfigError || err instanceof CorruptRecordError || (err instanceof Error && err.message.startsWith('TXN_FAILPOINTS'))) {
      process.stderr.write(`${err.message}\n`)
    } else {
      process.stderr.write(`fatal: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`)
    }
    process.exit(1)
  })
}
