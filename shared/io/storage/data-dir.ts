import { existsSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { ConfigError } from '../runtime/config.ts'

/**
 * Refuses a DATA_DIR that does not exist beside a LevelDB store in its
 * parent directory: the image's DATA_DIR moved from /data (the volume's root)
 * to /data/db, and a node upgraded in place would otherwise open a new, empty
 * store there and leave its data behind, unseen.
 */
export function checkDataDirPlacement(dataDir: string): void {
  if (existsSync(dataDir)) return
  const parent = dirname(resolve(dataDir))
  if (!existsSync(join(parent, 'CURRENT'))) return
  throw new ConfigError(`invalid configuration: DATA_DIR ${dataDir} does not exist, but ${parent} holds a LevelDB store (the image's DATA_DIR moved from /data to /data/db). With the node stopped, move the store into it (cd ${parent} && mkdir ${dataDir} && mv CURRENT LOCK LOG* MANIFEST-* *.ldb *.log ${dataDir}/), or set DATA_DIR=${parent}`)
}
