import { COORDINATOR, type SimConfig, type SimEvent, type World } from './world.ts'

/**
 * Partial-order reduction: of the events enabled in a world, a subset that
 * is enough to explore (a persistent set, Godefroid 1996). Exploring only
 * persistent sets still reaches every terminal state of the full search
 * (Godefroid, Theorem 4.3), though not every state on the way. That is
 * enough for our checks: progress and convergence are checked at terminal
 * states, and every safety check is stable (see invariants.ts), so a
 * violation reached anywhere is still there at the terminal states it leads
 * to (the state space is finite and acyclic: every event uses up a message,
 * a pending write, a timer, a client's request or a fault budget, and nodes
 * send only in response to one; `verifyAcyclic` checks it in the tests).
 *
 * The set: the events of one participant p (the delivery of the head of the
 * coordinator's connection to p, p's pending write and its replica cache's
 * pending reads of its store), when that head
 * exists. It is persistent because every event outside it is independent of
 * every event in it, on every path from here:
 * - Other events happen at the coordinator or at another participant: they
 *   change that node's state, take the head of a connection into that node,
 *   append to connections out of it, and add to the ghost's sets. p's events
 *   change p, take the head of coordinator → p, append to p → coordinator,
 *   and add to the ghost's sets (unions commute; a set's order is not part
 *   of the state).
 * - Connections are FIFO (config.fifo): appending to coordinator → p never
 *   changes its head while it has one, and taking the head of p →
 *   coordinator commutes with p appending to it. With unordered delivery a
 *   later PREPARE could overtake the one delivered now: no such set exists.
 * - No event can change p's connection or p's up state on the way: no crash
 *   or power-loss budget is left (a crash drops connections and steps every machine),
 *   no disconnection or duplication budget, p is up and connected (so no
 *   connect event for p exists), participants' own timers do not fire in
 *   exhaustive mode, and no backup coordinator runs.
 * - Message ids differ with the order of events; they are not part of a
 *   state's fingerprint.
 * Symmetry reduction composes with it: the set is chosen in the world
 * visited, and renaming participants maps paths to paths.
 */
export function persistentSet(config: SimConfig, world: World, events: SimEvent[]): SimEvent[] {
  if (!reducible(config, world)) return events
  const receiverOf = new Map(world.net.map((m) => [m.id, m.from === COORDINATOR ? m.to : undefined]))
  for (const p of Object.keys(world.links).sort()) {
    const mine = events.filter((e) => (e.kind === 'deliver' && receiverOf.get(e.msg) === p) || ((e.kind === 'persist' || e.kind === 'storeRead') && e.node === p))
    if (mine.some((e) => e.kind === 'deliver')) return mine
  }
  return events
}

function reducible(config: SimConfig, world: World): boolean {
  return (
    config.fifo === true &&
    config.timers === 'protocol' &&
    // Paxos Commit: participants message each other and fire their own recovery timers, which the argument above excludes.
    config.protocol !== 'paxos-commit' &&
    config.backup !== true &&
    ((world.budget.crashes === 0 && world.budget.powerLosses === 0) || config.crashable.length === 0) &&
    world.budget.disconnects === 0 &&
    world.budget.duplicates === 0
  )
}
