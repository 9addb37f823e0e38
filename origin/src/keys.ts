import { generateKeyPairSync } from 'node:crypto'
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fromBase64Url, toBase64Url } from '../../protocol/index.js'
import { type OriginKeys, originKeysFromPkcs8 } from './signing-key.js'

export type { OriginKeys }

/**
 * Where the Node origin finds its signing key (signing-key.ts says what it is): taken from the
 * environment when given (how a deployment injects it), otherwise generated once into the data
 * directory with mode 0600 and reused.
 */
interface StoredSigningKey {
  alg: 'Ed25519'
  publicKey: string
  /** PKCS#8 DER, base64url. */
  privateKey: string
}

const KEY_ENV = { signingKey: 'CHORUS_SIGNING_KEY' } as const

async function writeSecret(path: string, text: string): Promise<void> {
  // Written beside, then renamed: a crash never leaves a half-written key that later reads as valid.
  const tmp = `${path}.tmp-${process.pid}`
  await writeFile(tmp, text, { mode: 0o600 })
  await rename(tmp, path)
}

async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
}

function newSigningKey(): StoredSigningKey {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519')
  const spki = publicKey.export({ format: 'der', type: 'spki' })
  return {
    alg: 'Ed25519',
    publicKey: toBase64Url(new Uint8Array(spki.subarray(spki.length - 32))),
    privateKey: toBase64Url(new Uint8Array(privateKey.export({ format: 'der', type: 'pkcs8' }))),
  }
}

export async function loadOriginKeys(dataDir: string, env: NodeJS.ProcessEnv = process.env): Promise<OriginKeys> {
  const dir = join(dataDir, 'keys')
  await mkdir(dir, { recursive: true, mode: 0o700 })

  let pkcs8: Uint8Array
  const fromEnv = env[KEY_ENV.signingKey]
  if (fromEnv) {
    try {
      pkcs8 = fromBase64Url(fromEnv.trim())
    } catch {
      throw new Error(`${KEY_ENV.signingKey} must be an Ed25519 PKCS#8 private key in base64url`)
    }
  } else {
    const path = join(dir, 'signing-key.json')
    let stored = await readIfExists(path)
    if (stored === undefined) {
      stored = JSON.stringify(newSigningKey(), null, 2)
      await writeSecret(path, stored)
    }
    pkcs8 = fromBase64Url((JSON.parse(stored) as StoredSigningKey).privateKey)
  }
  return originKeysFromPkcs8(pkcs8)
}
