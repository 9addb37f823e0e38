import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto'
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { type ManifestVerifier, type TokenSigner, fromBase64Url, importManifestPublicKey, publicKeyId, toArrayBuffer, toBase64Url } from '../../protocol/index.js'

/**
 * The origin's secret: the Ed25519 key that signs manifests and session tokens (edges and
 * trackers verify both with the public key, and cannot sign either). Taken from the environment when given (how a deployment injects them), otherwise
 * generated once into the data directory with mode 0600 and reused.
 */
export interface OriginKeys {
  /** Raw 32-byte public key, base64url: the value edges and players are configured with. */
  publicKey: string
  keyId: string
  signer: CryptoKey
  /** The same key, as session tokens are signed with it: services verify tokens with publicKey. */
  tokenSigner: TokenSigner
  /** The public key, imported: what the key service checks its own tokens with. */
  verifier: ManifestVerifier
}

interface StoredSigningKey {
  alg: 'Ed25519'
  publicKey: string
  /** PKCS#8 DER, base64url. */
  privateKey: string
}

export const KEY_ENV = { signingKey: 'CHORUS_SIGNING_KEY' } as const

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

function publicFromPrivate(pkcs8: Uint8Array): string {
  // The last 32 bytes of an Ed25519 SPKI are the raw key; derive it rather than trusting a stored copy.
  const spki = createPublicKey(createPrivateKey({ key: Buffer.from(pkcs8), format: 'der', type: 'pkcs8' })).export({ format: 'der', type: 'spki' })
  return toBase64Url(new Uint8Array(spki.subarray(spki.length - 32)))
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
  const publicKey = publicFromPrivate(pkcs8)
  const signer = await crypto.subtle.importKey('pkcs8', toArrayBuffer(pkcs8), { name: 'Ed25519' }, false, ['sign'])

  const keyId = await publicKeyId(fromBase64Url(publicKey))
  return { publicKey, keyId, signer, tokenSigner: { key: signer, keyId }, verifier: await importManifestPublicKey(publicKey) }
}
