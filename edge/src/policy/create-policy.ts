import { createChunkAware } from './chunk-aware.js'
import { createLru } from './lru.js'
import { createS3Fifo } from './s3fifo.js'
import { createSieve } from './sieve.js'
import { createWTinyLfu } from './w-tinylfu.js'
import type { EvictionPolicy, PolicyName } from './types.js'

export const POLICY_NAMES: readonly PolicyName[] = Object.freeze(['lru', 'sieve', 's3fifo', 'w-tinylfu', 'chunk-aware'] as const)

export function isPolicyName(name: unknown): name is PolicyName {
  return typeof name === 'string' && (POLICY_NAMES as readonly string[]).includes(name)
}

export function createPolicy(name: PolicyName, capacityBytes: number): EvictionPolicy {
  switch (name) {
    case 'lru':
      return createLru(capacityBytes)
    case 'sieve':
      return createSieve(capacityBytes)
    case 's3fifo':
      return createS3Fifo(capacityBytes)
    case 'w-tinylfu':
      return createWTinyLfu(capacityBytes)
    case 'chunk-aware':
      return createChunkAware(capacityBytes)
    default:
      throw new TypeError(`policy must be one of ${POLICY_NAMES.join(', ')}, got ${String(name)}`)
  }
}
