import t from 'tap'
import { crashScenario } from '../helpers/crash-scenario.ts'

t.test('coordinator crashes before logging its decision: presumed abort everywhere', (t) =>
  crashScenario(t, 'coordinator.beforeDecisionLogged', { client: 'cut-off', outcome: 'aborted', whileDown: { applied: 'none' }, reason: 'coordinator_restarted' }))

t.test('coordinator crashes after logging COMMIT, before replying: committed everywhere after restart', (t) =>
  crashScenario(t, 'coordinator.afterDecisionLogged', { client: 'cut-off', outcome: 'committed', whileDown: { applied: 'none' } }))

t.test('coordinator crashes after replying, before sending COMMIT: the acknowledged commit is not lost', (t) =>
  crashScenario(t, 'coordinator.afterReplyBeforeCommitSent', { client: 'committed', outcome: 'committed', whileDown: { applied: 'none' } }))

t.test('coordinator crashes mid COMMIT fan-out: the participants it missed get COMMIT after restart', (t) =>
  crashScenario(t, 'coordinator.midCommitFanout', { client: 'cut-off', outcome: 'committed', whileDown: { applied: 'at most one' } }))

t.test('coordinator crashes before logging END: every participant applied; COMMIT is re-sent and acknowledged again', (t) =>
  crashScenario(t, 'coordinator.beforeEndLogged', { client: 'committed', outcome: 'committed', whileDown: { applied: 'all' } }))
