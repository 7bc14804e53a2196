/**
 * The container's entry point: one image for every role, the command picks
 * it (`coordinator`, `participant` or `chaos`); each reads its environment.
 */
const roles = {
  coordinator: async () => import('./coordinator/main.ts'),
  participant: async () => import('./participant/main.ts'),
  chaos: async () => import('./chaos/main.ts'),
  replica: async () => import('./replica/main.ts'),
} as const

const role = process.argv[2] ?? ''
if (role in roles) {
  await roles[role as keyof typeof roles]()
} else {
  process.stderr.write(`usage: role.js <${Object.keys(roles).join('|')}> (got "${role}")\n`)
  process.exit(2)
}
