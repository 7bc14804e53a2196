import closeWithGrace from 'close-with-grace'
import type { Logger } from './logger.ts'

/**
 * The one way a node stops (close-with-grace, the fastify ecosystem's choice):
 * SIGINT or SIGTERM closes the app (its onClose hooks stop taking work, then
 * close sockets and LevelDB), within `delayMs`, and exits 0. An uncaught
 * error (a broken invariant among them) is logged as fatal and the process
 * exits 1 at once, writing nothing more: what it would write came from a
 * state nobody designed, and recovery starts from what is durable.
 */
export function closeOnSignals(app: { close: () => Promise<unknown> }, logger: Logger, delayMs = 10000): void {
  closeWithGrace({ delay: delayMs, logger: { error: (msg: unknown) => { logger.error({ detail: msg }, 'graceful close did not finish') } } }, async ({ signal, err }) => {
    if (err) {
      logger.fatal({ err }, 'stopping after an uncaught error')
      return
    }
    logger.info({ signal }, 'shutting down')
    await app.close()
  })
}
