// @ts-check
import { builtinModules } from 'node:module'
import eslint from '@eslint/js'
import tseslint from 'typescript-eslint'

/**
 * The tree is the architecture: shared/core is the pure protocol (state
 * machines, messages, records), shared/io wires it to the world, shared/sim
 * runs it in a simulated one. These rules keep each layer to what it may use.
 */
const ioLibraries = ['ws', 'classic-level', 'fastify', 'pino', 'undici', 'close-with-grace', '@fastify/*']
const layer = (/** @type {string} */ name, /** @type {string} */ forbidden) => ({
  regex: `(^|/)(${forbidden})/`,
  message: `${name} may not import from ${forbidden.split('|').join(', ')} (see eslint.config.js: the tree is the architecture)`,
})
const pureCoreRules = {
  'no-restricted-imports': ['error', {
    paths: builtinModules.map((name) => ({ name, message: 'shared/core is pure: no Node APIs (I/O belongs in shared/io)' })),
    patterns: [
      { group: ['node:*'], message: 'shared/core is pure: no Node APIs (I/O belongs in shared/io)' },
      { group: ioLibraries, message: 'shared/core is pure: no I/O library (it belongs in shared/io)' },
      layer('shared/core', 'io|sim|services|scripts|test'),
    ],
  }],
  // No clock, no randomness, no timers, no process: time and chance come in with the events.
  'no-restricted-globals': ['error', ...['process', 'setTimeout', 'setInterval', 'setImmediate', 'clearTimeout', 'clearInterval', 'queueMicrotask', 'fetch', 'Buffer', 'performance', 'console'].map((name) => ({ name, message: 'shared/core is pure: no timers, clock, process or I/O' }))],
  'no-restricted-properties': ['error', { object: 'Date', property: 'now', message: 'shared/core has no clock: time comes with each event' }, { object: 'Math', property: 'random', message: 'shared/core has no randomness: use a seeded Prng passed in' }],
}

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'data/', '.tap/', 'coverage/', '.npm-cache/'] },
  eslint.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  ...tseslint.configs.stylisticTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true }],
      '@typescript-eslint/no-non-null-assertion': 'off',
      // fastify handlers are async by convention: they return the reply body.
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' }],
    },
  },
  { files: ['shared/core/**/*.ts'], rules: pureCoreRules },
  { files: ['shared/io/**/*.ts'], rules: { 'no-restricted-imports': ['error', { patterns: [layer('shared/io', 'sim|services|scripts|test')] }] } },
  { files: ['shared/sim/**/*.ts'], rules: { 'no-restricted-imports': ['error', { patterns: [layer('shared/sim', 'io|services|scripts|test')] }] } },
  { files: ['services/**/*.ts'], rules: { 'no-restricted-imports': ['error', { patterns: [layer('services', 'sim|scripts|test')] }] } },
  {
    // tap's t.test() returns a promise that tap itself awaits.
    files: ['test/**/*.ts'],
    rules: { '@typescript-eslint/no-floating-promises': 'off' },
  },
  { files: ['eslint.config.js', 'test/coverage-map.js'], ...tseslint.configs.disableTypeChecked },
  {
    // The console's browser module: plain JavaScript served as-is (no build step), checked without types.
    files: ['services/coordinator/console/**/*.js'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: { parserOptions: { projectService: false, project: null }, globals: { document: 'readonly', window: 'readonly', fetch: 'readonly', sessionStorage: 'readonly', performance: 'readonly', setInterval: 'readonly', console: 'readonly' } },
  },
)
