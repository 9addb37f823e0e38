import { ProtocolError } from './errors.js'
import { bearerToken } from './token.js'

/**
 * Operator endpoints (metrics, stats, purge) answer only to `Authorization: Bearer <operator
 * token>` when the server has one (`CHORUS_OPERATOR_TOKEN`; `chorus start` makes one per run).
 * Without a configured token they are open, which is for a developer's own machine only.
 * Pure and runtime-free, so the origin, the edge Worker and the tracker (Node or Durable
 * Object) share one rule.
 */
export function operatorAllowed(authorization: string | null | undefined, token: string | undefined): boolean {
  if (token === undefined || token === '') return true
  const given = bearerToken(authorization)
  return given !== undefined && sameSecret(given, token)
}

/**
 * Equal strings, in a time that depends only on the expected secret's length: a wrong guess
 * does not reveal how many leading characters were right.
 */
export function sameSecret(given: string, expected: string): boolean {
  const a = new TextEncoder().encode(given)
  const b = new TextEncoder().encode(expected)
  let diff = a.length ^ b.length
  for (let i = 0; i < b.length; i++) diff |= (a[i] ?? 0) ^ b[i]!
  return diff === 0
}

/** Throws the 401 an operator endpoint answers without the token (each server's error path renders it). */
export function assertOperator(authorization: string | null | undefined, token: string | undefined): void {
  if (!operatorAllowed(authorization, token)) {
    throw new ProtocolError('unauthorized', 'an operator endpoint: send Authorization: Bearer <operator token> (CHORUS_OPERATOR_TOKEN)')
  }
}
