/** The commit protocols a cluster runs (COMMIT_PROTOCOL). */
export type Protocol = '2pc' | 'paxos-commit'

/** A `--protocols` option: a comma-separated list of them, in the order to run. */
export function parseProtocols(option: string): Protocol[] {
  return option.split(',').map((p): Protocol => {
    if (p !== '2pc' && p !== 'paxos-commit') throw new Error(`--protocols: "${p}" is neither 2pc nor paxos-commit`)
    return p
  })
}
