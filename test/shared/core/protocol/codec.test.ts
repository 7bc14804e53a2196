import t from 'tap'
import { decodeToCoordinator, decodeToParticipant, encodeFrame } from '../../../../shared/core/protocol/codec.ts'
import { limits } from '../../../../shared/core/protocol/messages.ts'

t.test('a frame is a JSON array of valid messages and round-trips', async (t) => {
  const frame = encodeFrame([{ type: 'prepare', txId: '1.1', writes: [{ key: 'a', value: 'x', ifVersion: 0 }] }, { type: 'commit', txId: '1.0' }])
  t.same(decodeToParticipant(frame), { ok: true, messages: [{ type: 'prepare', txId: '1.1', writes: [{ key: 'a', value: 'x', ifVersion: 0 }] }, { type: 'commit', txId: '1.0' }], refused: [] })
  t.match(decodeToCoordinator(encodeFrame([{ type: 'vote', txId: '1.1', yes: false, reason: { code: 'conflict', key: 'a', message: 'held' } }])), { ok: true })
})

t.test('malformed frames are refused with a reason, never thrown', async (t) => {
  t.same(decodeToParticipant('nope'), { ok: false, error: 'frame is not JSON' })
  t.same(decodeToParticipant('{"type":"commit","txId":"1"}'), { ok: false, error: 'frame is not an array of messages' })
  t.match(decodeToParticipant('[]'), { ok: false, error: /1\.\.4096 messages/ })
  t.match(decodeToParticipant(`[${'1,'.repeat(limits.maxMessagesPerFrame)}1]`), { ok: false, error: /1\.\.4096 messages/ }, 'too many messages')
})

t.test('inside a frame each message is checked on its own: a bad one is refused alone, the good ones beside it are delivered', async (t) => {
  t.same(decodeToParticipant('[{"type":"commit"}]'), { ok: true, messages: [], refused: [{ index: 0, error: "message 0: / must have required properties txId" }] })
  t.same(decodeToParticipant('[42]'), { ok: true, messages: [], refused: [{ index: 0, error: 'message 0: / must be a message object' }] })
  t.match(decodeToParticipant('[{"type":"commit","txId":"1"},{"type":"launch"}]'), { ok: true, messages: [{ type: 'commit', txId: '1' }], refused: [{ index: 1, error: 'message 1: /type is not a known message type' }] })
  t.match(decodeToParticipant('[{"type":"prepare","txId":"1","writes":[{"key":"a","value":"x","evil":1}]}]'), { ok: true, messages: [], refused: [{ index: 0 }] })
  t.match(decodeToCoordinator('[{"type":"prepare","txId":"1","writes":[{"key":"a","value":"x"}]}]'), { ok: true, messages: [], refused: [{ index: 0 }] }, 'direction matters')
  // What broke a link: an invalid read answer (a version that is an object) in the frame of a hello.
  const mixed = decodeToCoordinator('[{"type":"readResult","reqId":1,"entry":{"value":"x","version":{}}},{"type":"hello","participant":"p1"}]')
  t.match(mixed, { ok: true, messages: [{ type: 'hello', participant: 'p1' }], refused: [{ index: 0, error: /^message 0: / }] })
})

t.test('keys named like Object.prototype members survive the codec as own entries', async (t) => {
  const decoded = decodeToCoordinator('[{"type":"vote","txId":"1.1","yes":true,"versions":{"__proto__":1,"constructor":2,"toString":3}}]')
  t.ok(decoded.ok)
  const [vote] = decoded.ok ? decoded.messages : []
  t.same(Object.entries(vote?.type === 'vote' ? vote.versions ?? {} : {}), [['__proto__', 1], ['constructor', 2], ['toString', 3]])
  t.match(decodeToCoordinator('[{"type":"vote","txId":"1.1","yes":true,"versions":{"__proto__":{}}}]'), { ok: true, messages: [], refused: [{ index: 0 }] }, 'a version that is an object is refused')
  t.match(decodeToParticipant(`[${'1,'.repeat(limits.maxFrameBytes / 2)}1]`), { ok: false, error: 'frame too large' })
})
