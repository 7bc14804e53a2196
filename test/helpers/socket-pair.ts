import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import type { Test } from 'tap'
import WebSocket, { WebSocketServer, type ClientOptions } from 'ws'

/** A real WebSocket pair on 127.0.0.1, closed when the test ends; `client` options as ws takes them (e.g. `autoPong: false`). */
export async function socketPair(t: Test, client: ClientOptions = {}): Promise<{ client: WebSocket; server: WebSocket }> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 })
  await once(wss, 'listening')
  const ws = new WebSocket(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}`, client)
  const [server] = (await once(wss, 'connection')) as [WebSocket]
  await once(ws, 'open')
  t.teardown(async () => {
    ws.terminate()
    server.terminate()
    await new Promise((ok) => { wss.close(ok) })
  })
  return { client: ws, server }
}
