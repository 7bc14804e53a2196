import type { RawData } from 'ws'

/** A ws message as text, whatever buffer shape ws delivered it in. */
export function rawDataToString(data: RawData): string {
  if (Buffer.isBuffer(data)) return data.toString('utf8')
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8')
  return Buffer.from(data).toString('utf8')
}

/** ws's error for a frame over `maxPayload`: it closes the connection with 1009 after it. */
export function isFrameTooLarge(err: Error): boolean {
  return (err as Error & { code?: string }).code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH'
}
