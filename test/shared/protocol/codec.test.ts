import t from 'tap'
import { decodeToCoordinator, decodeToParticipant, encodeFrame } from '../../../shared/protocol/codec.ts'
import { limits } from '../../../shared/protocol/messages.ts'

t.test('a frame is a JSON array of valid messages and round-trips', async (t) => {
  const frame = encodeFrame([{ type: 'prepare', txId: '1.1', writes: [{ key: 'a', value: 'x', ifVersion: 0 }] }, { type: 'commit', txId: '1.0' }])
  t.same(decodeToParticipant(frame), { ok: true, messages: [{ type: 'prepare', txId: '1.1', writes: [{ key: 'a', value: 'x', ifVersion: 0 }] }, { type: 'commit', txId: '1.0' }] })
  t.match(decodeToCoordinator(encodeFrame([{ type: 'vote', txId: '1.1', yes: false, reason: { code: 'conflict', key: 'a', message: 'held' } }])), { ok: true })
})

t.test('malformed frames are refused with a reason, never thrown', async (t) => {
  t.same(decodeToParticipant('nope'), { ok: false, error: 'frame is not JSON' })
  t.same(decodeToParticipant('{"type":"commit","txId":"1"}'), { ok: false, error: 'frame is not an array of messages' })
  t.match(decodeToParticipant('[]'), { ok: false, error: /1\.\.4096 messages/ })
  t.match(decodeToParticipant('[{"type":"commit"}]'), { ok: false, error: /^message 0: / })
  t.match(decodeToParticipant('[42]'), { ok: false, error: /^message 0: \/ / })
  t.match(decodeToParticipant('[{"type":"commit","txId":"1"},{"type":"launch"}]'), { ok: false, error: /^message 1: / })
  t.match(decodeToParticipant('[{"type":"prepare","txId":"1","writes":[{"key":"a","value":"x","evil":1}]}]'), { ok: false })
  t.match(decodeToCoordinator('[{"type":"prepare","txId":"1","writes":[{"key":"a","value":"x"}]}]'), { ok: false }, 'direction matters')
  t.match(decodeToParticipant(`[${'1,'.repeat(limits.maxFrameBytes / 2)}1]`), { ok: false, error: 'frame too large' })
})
