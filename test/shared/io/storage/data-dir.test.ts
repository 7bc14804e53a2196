import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { checkDataDirPlacement } from '../../../../shared/io/storage/data-dir.ts'

t.test('a missing DATA_DIR beside a LevelDB store in its parent is refused; anything else passes', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'txn-data-dir-'))
  t.teardown(() => { rmSync(root, { recursive: true, force: true }) })
  const dir = join(root, 'db')
  t.doesNotThrow(() => { checkDataDirPlacement(dir) }, 'a new node: nothing in the parent')
  writeFileSync(join(root, 'CURRENT'), 'MANIFEST-000001\n')
  t.throws(() => { checkDataDirPlacement(dir) }, { name: 'Error', message: new RegExp(`DATA_DIR ${dir} does not exist, but ${root} holds a LevelDB store .*mv CURRENT LOCK LOG\\* MANIFEST-\\* \\*\\.ldb \\*\\.log ${dir}/\\), or set DATA_DIR=${root}`) }, 'the store left in the parent (the image\'s old DATA_DIR)')
  mkdirSync(dir)
  t.doesNotThrow(() => { checkDataDirPlacement(dir) }, 'DATA_DIR exists: it is the store')
})
