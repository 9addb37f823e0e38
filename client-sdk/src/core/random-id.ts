/**
 * Ids other listeners and the tracker see (peer ids, offer ids): 20 random bytes as 40 hex
 * characters, from the platform's CSPRNG. Math.random is predictable from a few outputs, and a
 * peer id that can be guessed can be taken or impersonated at the tracker.
 */
export type FillRandom = (bytes: Uint8Array) => Uint8Array

const cryptoFill: FillRandom = (bytes) => globalThis.crypto.getRandomValues(bytes)

export function randomId(fill: FillRandom = cryptoFill): string {
  const bytes = fill(new Uint8Array(20))
  let hex = ''
  for (const b of bytes) hex += b.toString(16).padStart(2, '0')
  return hex
}
