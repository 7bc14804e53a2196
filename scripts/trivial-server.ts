import Fastify from 'fastify'

/** The benchmark's ceiling: a fastify POST route that does nothing, measured with the same load generator. */
const app = Fastify({ logger: false })
app.post('/noop', async () => ({ ok: true }))
await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT ?? 0) })
process.stdout.write('ready\n')
