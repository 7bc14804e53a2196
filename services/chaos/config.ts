import Type from 'typebox'
import { ConfigError, loadConfig } from '../../shared/io/runtime/config.ts'
import { loadTls, type TlsMaterial } from '../../shared/io/runtime/tls.ts'
import { parseAccessTokens, requireTokensOffLoopback, type AccessTokens } from '../../shared/io/runtime/access-tokens.ts'
import { parseKillForGood, parseMix, parseRange, parseRoles, type ScheduleOptions } from './schedule.ts'

const Schema = Type.Object(
  {
    host: Type.String({ default: '0.0.0.0' }),
    port: Type.Integer({ minimum: 0, maximum: 65535, default: 8090 }),
    dockerSocket: Type.String({ default: '/var/run/docker.sock' }),
    project: Type.String({ default: '' }),
    schedule: Type.Union([Type.Literal('on'), Type.Literal('off')], { default: 'off' }),
    seed: Type.Integer({ minimum: 0, maximum: 0xffffffff, default: 1 }),
    intervalMs: Type.String({ default: '3000-8000' }),
    durationMs: Type.String({ default: '1000-5000' }),
    mix: Type.String({ default: 'kill=1,pause=1,partition=1' }),
    roles: Type.String({ default: 'participant,coordinator' }),
    maxDown: Type.Integer({ minimum: 1, default: 1 }),
    killForGood: Type.String({ default: '' }),
    logLevel: Type.Union(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)), { default: 'info' }),
    adminToken: Type.String({ default: '' }),
    tlsCert: Type.String({ default: '' }),
    tlsKey: Type.String({ default: '' }),
    tlsCa: Type.String({ default: '' }),
  },
  { additionalProperties: false },
)

export const chaosEnv = {
  host: 'CHAOS_HOST',
  port: 'CHAOS_PORT',
  dockerSocket: 'DOCKER_SOCKET',
  project: 'CHAOS_PROJECT',
  schedule: 'CHAOS_SCHEDULE',
  seed: 'CHAOS_SEED',
  intervalMs: 'CHAOS_INTERVAL_MS',
  durationMs: 'CHAOS_DURATION_MS',
  mix: 'CHAOS_MIX',
  roles: 'CHAOS_ROLES',
  maxDown: 'CHAOS_MAX_DOWN',
  killForGood: 'CHAOS_KILL_FOR_GOOD',
  logLevel: 'LOG_LEVEL',
  adminToken: 'ADMIN_TOKEN',
  tlsCert: 'TLS_CERT',
  tlsKey: 'TLS_KEY',
  tlsCa: 'TLS_CA',
} as const

export interface ChaosConfig {
  host: string
  port: number
  dockerSocket: string
  project: string
  /** Start the random schedule at boot (otherwise only through `PUT /v1/schedule`). */
  scheduleAtStart: boolean
  schedule: ScheduleOptions
  logLevel: string
  /** ADMIN_TOKEN: the whole API but /healthz and the API document needs it; none: open (loopback only). */
  access: AccessTokens
  /** TLS_CERT, TLS_KEY, TLS_CA: its API over HTTPS. */
  tls?: TlsMaterial
}

export function loadChaosConfig(env: NodeJS.ProcessEnv): ChaosConfig {
  const raw = loadConfig(Schema, env, chaosEnv)
  const access = parseAccessTokens('', raw.adminToken)
  requireTokensOffLoopback(raw.host, 'CHAOS_HOST', access, ['ADMIN_TOKEN'])
  const tls = loadTls({ cert: raw.tlsCert, key: raw.tlsKey, ca: raw.tlsCa })
  try {
    return {
      host: raw.host,
      port: raw.port,
      dockerSocket: raw.dockerSocket,
      project: raw.project,
      scheduleAtStart: raw.schedule === 'on',
      schedule: {
        seed: raw.seed,
        intervalMs: parseRange(raw.intervalMs),
        durationMs: parseRange(raw.durationMs),
        mix: parseMix(raw.mix),
        roles: parseRoles(raw.roles),
        maxDown: raw.maxDown,
        ...(raw.killForGood === '' ? {} : { killForGood: parseKillForGood(raw.killForGood) }),
      },
      logLevel: raw.logLevel,
      access,
      ...(tls ? { tls } : {}),
    }
  } catch (err) {
    throw new ConfigError(`invalid configuration: ${(err as Error).message}`)
  }
}
