import { ConfigError } from './config.ts'

export interface NamedUrl {
  name: string
  url: string
}

/** "p1=ws://127.0.0.1:7001,p2=ws://…" → named WebSocket URLs, in the order given; `variable` names the setting in errors. */
export function parseNodeList(spec: string, variable: string): NamedUrl[] {
  const list = spec.split(',').map((part) => part.trim()).filter(Boolean).map((part) => {
    const eq = part.indexOf('=')
    const name = part.slice(0, eq)
    const url = part.slice(eq + 1)
    if (eq <= 0 || !/^wss?:\/\/.+/.test(url) || !/^[\w-]+$/.test(name)) {
      throw new ConfigError(`invalid configuration: ${variable} entry "${part}" is not name=ws://host:port`)
    }
    return { name, url }
  })
  if (new Set(list.map((p) => p.name)).size !== list.length) throw new ConfigError(`invalid configuration: ${variable} has a duplicate name`)
  return list
}
