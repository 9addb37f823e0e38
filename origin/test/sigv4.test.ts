import t from 'tap'
import { signRequest, uriEncode } from '../src/sigv4.js'

// The worked examples of the S3 API reference ("Signature Calculations for the Authorization
// Header: Transferring Payload in a Single Chunk"): the example credentials, bucket and time, and
// the signatures the reference prints for them. s3rver checks no V4 signature, so these are what
// holds the signer to the spec.
const credentials = { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' }
const date = new Date('2013-05-24T00:00:00Z')
const host = 'https://examplebucket.s3.amazonaws.com'
const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'

function parts(authorization: string | undefined) {
  const m = /^AWS4-HMAC-SHA256 Credential=([^,]+),SignedHeaders=([^,]+),Signature=([0-9a-f]{64})$/.exec(authorization ?? '')
  return m ? { credential: m[1], signedHeaders: m[2], signature: m[3] } : undefined
}

t.test('GET an object with a Range', async (t) => {
  const headers = await signRequest({ method: 'GET', url: new URL(`${host}/test.txt`), headers: { Range: 'bytes=0-9' }, credentials, region: 'us-east-1', date })
  t.equal(headers['x-amz-date'], '20130524T000000Z')
  t.equal(headers['x-amz-content-sha256'], EMPTY_SHA256)
  t.same(parts(headers.authorization), {
    credential: 'AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request',
    signedHeaders: 'host;range;x-amz-content-sha256;x-amz-date',
    signature: 'f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41',
  })
  t.notOk('host' in headers, 'fetch sets Host itself, from the URL that was signed')
})

t.test('PUT an object: a signed payload, a key that needs encoding, a Date header', async (t) => {
  const headers = await signRequest({
    method: 'PUT',
    url: new URL(`${host}/${uriEncode('test$file.text', true)}`),
    headers: { Date: 'Fri, 24 May 2013 00:00:00 GMT', 'x-amz-storage-class': 'REDUCED_REDUNDANCY' },
    body: new TextEncoder().encode('Welcome to Amazon S3.'),
    credentials,
    region: 'us-east-1',
    date,
  })
  t.equal(headers['x-amz-content-sha256'], '44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072')
  t.same(parts(headers.authorization), {
    credential: 'AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request',
    signedHeaders: 'date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class',
    signature: '98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd',
  })
})

t.test('GET a bucket subresource: a query parameter without a value', async (t) => {
  const headers = await signRequest({ method: 'GET', url: new URL(`${host}/?lifecycle`), credentials, region: 'us-east-1', date })
  t.equal(parts(headers.authorization)?.signature, 'fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543')
})

t.test('list objects: query parameters sorted by name', async (t) => {
  const headers = await signRequest({ method: 'GET', url: new URL(`${host}/?prefix=J&max-keys=2`), credentials, region: 'us-east-1', date })
  t.equal(parts(headers.authorization)?.signature, '34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7')
})

t.test('temporary credentials sign their session token', async (t) => {
  const headers = await signRequest({ method: 'GET', url: new URL(`${host}/test.txt`), credentials: { ...credentials, sessionToken: 'token/with+chars' }, region: 'us-east-1', date })
  t.equal(headers['x-amz-security-token'], 'token/with+chars')
  t.equal(parts(headers.authorization)?.signedHeaders, 'host;x-amz-content-sha256;x-amz-date;x-amz-security-token')
})

t.test('UriEncode keeps only the unreserved characters', async (t) => {
  t.equal(uriEncode('a-z_A.Z~09'), 'a-z_A.Z~09')
  t.equal(uriEncode('tracks/a b/é+*'), 'tracks%2Fa%20b%2F%C3%A9%2B%2A')
  t.equal(uriEncode('tracks/a b', true), 'tracks/a%20b')
})
