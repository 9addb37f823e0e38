// Operator-only HTTP endpoints (/metrics; the figures of /healthz): with an operator token
// configured they need `Authorization: Bearer <token>`, else 401 with a JSON body. One pure check
// for Node and Workers alike.

import { operatorAllowed } from '../../protocol/index.js'

/** Where a Node tracker reads its operator token: this variable, or the file `--operator-token-file` names. */
export const OPERATOR_TOKEN_ENV = 'CHORUS_OPERATOR_TOKEN'

/**
 * Whether the Authorization header carries `token` (`Bearer <token>`); true when no token is
 * configured. The rule the origin and the edge use too (protocol/src/operator.ts): a comparison
 * whose time depends only on the expected token's length, so no timing tells how much of a guess
 * was right.
 */
export function operatorAuthorized(authorization: string | null | undefined, token: string | undefined): boolean {
  return operatorAllowed(authorization, token)
}

export const OPERATOR_UNAUTHORIZED = {
  status: 401,
  headers: { 'content-type': 'application/json', 'www-authenticate': 'Bearer realm="chorus-tracker"' },
  body: JSON.stringify({ error: { code: 'unauthorized', message: 'operator endpoint: send Authorization: Bearer <operator token>' } }),
}

/** Refuses an operator token that cannot work in a Bearer header (empty, or with whitespace). */
export function checkOperatorToken(token: string | undefined, where: string): void {
  if (token === undefined) return
  if (typeof token !== 'string' || token === '' || /\s/.test(token)) throw new TypeError(`${where}: the operator token must be one word without spaces`)
}
