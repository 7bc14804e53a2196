import t from 'tap'
import { crashScenario } from '../helpers/crash-scenario.ts'

t.test('participant crashes before its PREPARED record is logged: the transaction aborts, and its disk holds nothing of it', (t) =>
  crashScenario(t, 'participant.beforePrepareLogged', { client: 'aborted', outcome: 'aborted', whileDown: { preparedOnDisk: false, appliedOnDisk: false } }))

t.test('participant crashes with its PREPARED record logged but no vote sent: aborts, and the restarted participant resolves its in-doubt record', (t) =>
  crashScenario(t, 'participant.afterPrepareLoggedBeforeVote', { client: 'aborted', outcome: 'aborted', whileDown: { preparedOnDisk: true, appliedOnDisk: false } }))

t.test('participant crashes after COMMIT arrived, before applying: the commit is applied after restart', (t) =>
  crashScenario(t, 'participant.afterCommitReceivedBeforeApply', { client: 'committed', outcome: 'committed', whileDown: { preparedOnDisk: true, appliedOnDisk: false } }))

t.test('participant crashes after applying, before its ACK: the re-sent COMMIT is acknowledged, not applied twice', (t) =>
  crashScenario(t, 'participant.afterApplyBeforeAck', { client: 'committed', outcome: 'committed', whileDown: { preparedOnDisk: false, appliedOnDisk: true } }))
