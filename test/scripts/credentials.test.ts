import t from 'tap'
import { authHeaders } from '../../scripts/lib/credentials.ts'

t.test('a script sends the token its environment gives, for the kind of route it calls', async (t) => {
  t.same(authHeaders('admin', {}), {}, 'none set: no header (a node without tokens)')
  t.same(authHeaders('client', {}), {})
  t.same(authHeaders('admin', { ADMIN_TOKEN: 'ops-token-0123456789' }), { authorization: 'Bearer ops-token-0123456789' })
  t.same(authHeaders('client', { ADMIN_TOKEN: 'ops-token-0123456789' }), { authorization: 'Bearer ops-token-0123456789' }, 'a client call falls back on the admin token (admin includes write)')
  t.same(authHeaders('client', { ADMIN_TOKEN: 'ops-token-0123456789', CLIENT_TOKEN: 'app-token-0123456789' }), { authorization: 'Bearer app-token-0123456789' }, 'CLIENT_TOKEN first')
  t.same(authHeaders('admin', { CLIENT_TOKEN: 'app-token-0123456789' }), {}, 'an admin call never sends a client token')
  t.same(authHeaders('admin', { ADMIN_TOKEN: '' }), {}, 'empty is unset')
})
