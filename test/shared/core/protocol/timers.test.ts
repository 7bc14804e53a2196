import t from 'tap'
import { timerKey, type Timer } from '../../../../shared/core/protocol/timers.ts'

t.test('each timer has a key that names it: one per transaction, read or participant, one for the periodic ones', async (t) => {
  const timers: [Timer, string][] = [
    [{ kind: 'vote', txId: '1.2' }, 'vote:1.2'],
    [{ kind: 'gc' }, 'gc'],
    [{ kind: 'sweep' }, 'sweep'],
    [{ kind: 'read', reqId: 7 }, 'read:7'],
    [{ kind: 'read', reqId: 7, from: 'c2' }, 'read:c2:7'],
    [{ kind: 'lookup', reqId: 7 }, 'lookup:7'],
    [{ kind: 'resend', participant: 'p2', after: '1.9' }, 'resend:p2'],
  ]
  for (const [timer, key] of timers) t.equal(timerKey(timer), key, key)
  t.equal(timerKey({ kind: 'resend', participant: 'p2', after: '3.1' }), 'resend:p2', 'a later batch of the same re-send replaces the earlier one')
})
