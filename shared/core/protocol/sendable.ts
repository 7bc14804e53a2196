import { invariant } from './invariant.ts'

/**
 * A machine never emits a message its peer's codec would refuse: checked
 * against the same schema, at the end of every step. The peer would drop such
 * a message (and, before messages were refused one by one, the frame with it);
 * here it stops the node that made it, naming the message.
 */
export function assertSendable(
  role: string,
  effects: readonly { type: string; msg?: unknown }[],
  explain: (msg: unknown) => string | undefined,
  effectType = 'send',
): void {
  for (const effect of effects) {
    if (effect.type !== effectType) continue
    const why = explain(effect.msg)
    invariant(why === undefined, () => `${role} emitted a ${(effect.msg as { type: string }).type} message its peer would refuse (${why}): ${JSON.stringify(effect.msg).slice(0, 300)}`)
  }
}
