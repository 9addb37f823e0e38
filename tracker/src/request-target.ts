// Reading the request-target of an HTTP request (the `/announce?token=…` of `GET /announce?token=…
// HTTP/1.1`): the one place the Node tracker turns one into a URL, for every listener (plain
// requests, upgrades in one process, upgrades handed to a shard). It never throws.
//
// `new URL(target, base)` is not the way: it resolves the target as a relative reference, so
// `//` (a scheme-relative URL with an empty host) throws, and `//evil.com/announce` or
// `/\evil.com` come out as another host's `/announce` or `/`. A request-target is not a relative
// reference: in origin-form it is an absolute path (RFC 9112 §3.2.1), and `//x` is a path whose
// first segment is empty.

/** The origin that origin-form targets are appended to; the tracker never reads its host. */
const BASE = 'http://tracker'

/** Schemes of the absolute-form (RFC 9112 §3.2.2), which an HTTP/1.1 server must accept. */
const ABSOLUTE_FORM = /^(?:https?|wss?):\/\//i

/**
 * The target as a URL (read its `pathname` and `searchParams`), or null when it is neither an
 * origin-form target (`/path?query`) nor a parsable absolute-form one (`http://host/path`):
 * empty, `*` (asterisk-form), `host:port` (authority-form), `a`, `http://[::1`, and so on.
 * Answer null with a 400 `bad_request`.
 */
export function parseRequestTarget(target: string | undefined): URL | null {
  if (target === undefined || target.length === 0) return null
  let href: string
  if (target.charCodeAt(0) === 0x2f /* / */) href = BASE + target
  else if (ABSOLUTE_FORM.test(target)) href = target
  else return null
  try {
    return new URL(href)
  } catch {
    return null
  }
}

/** The message of the 400 for a target parseRequestTarget refuses. */
export function badTargetMessage(target: string | undefined): string {
  const shown = JSON.stringify((target ?? '').slice(0, 64))
  return `malformed request-target ${shown}: expected /path or http://host/path`
}
