/**
 * One listener's path to the edge, in user space: the `fetch` the SDK is given. A request
 * waits half the round trip before it leaves; its answer waits for the listener's downlink
 * (answers queue behind each other at `downBytesPerSec`) and the other half of the round trip.
 * Loss: each packet (1448 bytes of payload) is lost with probability `loss`, and a loss costs a
 * retransmission, one round trip, or the 200 ms minimum retransmission timeout when it hits one
 * of the last three packets of an answer (a tail loss: no duplicate acks to trigger a fast one).
 * Connections are kept alive, so no handshake is paid after the first request.
 */
export interface EdgeLinkOptions {
  rttMs: number
  downBytesPerSec: number
  loss: number
  random: () => number
  now?: () => number
  /** Called once per answer, when the listener has it. */
  onAnswer?: (answer: { path: string; status: number; bytes: number; xCache: string | null; ms: number }) => void
}

const MSS = 1448
const MIN_RTO_MS = 200
const NULL_BODY = new Set([101, 103, 204, 205, 304])

function wait(ms: number, signal: AbortSignal | null | undefined): Promise<void> {
  if (signal?.aborted) return Promise.reject(signal.reason)
  if (ms <= 0) return Promise.resolve()
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer)
      reject(signal!.reason)
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}

export function createEdgeLink(options: EdgeLinkOptions) {
  const now = options.now ?? (() => performance.now())
  const half = options.rttMs / 2
  let busyUntil = 0
  const counters = { requests: 0, bytes: 0 }

  /** Extra ms that lost packets cost a transfer of `packets` packets. */
  function lossDelay(packets: number): number {
    if (options.loss <= 0) return 0
    let extra = 0
    for (let i = 0; i < packets; i++) {
      if (options.random() < options.loss) extra += i >= packets - 3 ? Math.max(MIN_RTO_MS, 2 * options.rttMs) : options.rttMs
    }
    return extra
  }

  const linkFetch = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const started = now()
    const signal = init?.signal
    counters.requests++
    await wait(half + lossDelay(1), signal)
    const res = await fetch(input, init)
    const body = NULL_BODY.has(res.status) ? null : new Uint8Array(await res.arrayBuffer())
    const bytes = body?.byteLength ?? 0
    const arrived = now()
    const start = Math.max(arrived, busyUntil)
    busyUntil = start + (bytes / options.downBytesPerSec) * 1000
    await wait(busyUntil - arrived + half + lossDelay(Math.ceil(bytes / MSS) + 1), signal)
    counters.bytes += bytes
    const path = new URL(typeof input === 'string' || input instanceof URL ? input : input.url).pathname
    options.onAnswer?.({ path, status: res.status, bytes, xCache: res.headers.get('x-cache'), ms: now() - started })
    return new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers })
  }

  return {
    fetch: linkFetch as typeof fetch,
    get requests() {
      return counters.requests
    },
    get bytes() {
      return counters.bytes
    },
  }
}
