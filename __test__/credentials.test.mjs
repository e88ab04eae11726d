// Cloud credentials found as the providers' SDKs find them, traded at loopback token endpoints
// that check what the real ones check (helpers/mock-credentials.mjs), cached until near expiry,
// and sent where they belong: a Vertex bearer token, Bedrock SigV4 with role keys, an Azure
// Entra ID token as `Authorization: Bearer`.
import { test, before, after, describe } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { configure, completion, stream } from '../index.mjs'
import { AWS, startMocks } from './helpers/mock-providers.mjs'
import { startTokenMocks, serviceAccountKey, GOOGLE_TOKEN } from './helpers/mock-credentials.mjs'

let mocks, tokens, dir, sa
/** The Azure mock answers streams only, as amplify calls it. */
async function streamed(req) {
  let text = ''
  for await (const c of stream(req)) text += c.choices[0]?.delta?.content ?? ''
  return text
}
const ask = (model, extra = {}) => ({ model, messages: [{ role: 'user', content: 'hello there' }], max_tokens: 20, max_retries: 0, ...extra })

before(async () => {
  mocks = await startMocks(['anthropic', 'bedrock', 'azure'])
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'llmux-creds-'))
  tokens = await startTokenMocks({ webIdentityToken: 'oidc-token' })
  sa = serviceAccountKey(`${tokens.url}/google/token`)
  tokens.state.publicKey = sa.publicKey
})
after(async () => {
  configure({ secrets: null, azureADTokenProvider: null })
  await Promise.all([mocks.close(), tokens.close()])
  fs.rmSync(dir, { recursive: true, force: true })
})

/** The mocks' secrets without the given keys, plus `extra`. */
function secretsWithout(names, extra = {}) {
  const s = { ...mocks.secrets }
  for (const n of names) delete s[n]
  return { ...s, HOME: dir, ...extra }
}

describe('Vertex AI: Google application default credentials', () => {
  test('a service-account key file: a signed JWT traded once for a token, then cached', async () => {
    const keyFile = path.join(dir, 'sa.json')
    fs.writeFileSync(keyFile, JSON.stringify(sa.key))
    configure({ secrets: secretsWithout(['VERTEXAI_ACCESS_TOKEN'], { GOOGLE_APPLICATION_CREDENTIALS: keyFile }) })
    const before = tokens.hits.google
    const r = await completion(ask('vertex_ai/claude-sonnet-4-5@20250929'))
    assert.equal(typeof r.choices[0].message.content, 'string')
    const vertexCall = mocks.anthropic.requests.at(-1)
    assert.equal(vertexCall.headers.authorization, `Bearer ${GOOGLE_TOKEN}`)
    await completion(ask('vertex_ai/claude-sonnet-4-5@20250929'))
    await Promise.all([1, 2, 3].map(() => completion(ask('vertex_ai/claude-sonnet-4-5@20250929'))))
    assert.equal(tokens.hits.google - before, 1, 'one exchange for five calls (concurrent ones share it)')
  })

  test('a token within five minutes of expiry is refreshed before use', async () => {
    const key = { ...sa.key, client_email: sa.key.client_email }
    tokens.state.lifetime = 200 // under the refresh margin: never good enough to keep
    configure({ secrets: secretsWithout(['VERTEXAI_ACCESS_TOKEN']) })
    const before = tokens.hits.google
    await completion(ask('vertex_ai/claude-sonnet-4-5@20250929', { vertex_credentials: JSON.stringify({ ...key, private_key_id: 'kid-2' }) }))
    await completion(ask('vertex_ai/claude-sonnet-4-5@20250929', { vertex_credentials: JSON.stringify({ ...key, private_key_id: 'kid-2' }) }))
    assert.equal(tokens.hits.google - before, 2)
    tokens.state.lifetime = 3600
  })

  test('an authorized_user file (gcloud auth application-default login) in the well-known place', async () => {
    const gcloud = path.join(dir, '.config', 'gcloud')
    fs.mkdirSync(gcloud, { recursive: true })
    fs.writeFileSync(
      path.join(gcloud, 'application_default_credentials.json'),
      JSON.stringify({ type: 'authorized_user', client_id: 'cid', client_secret: 'csecret', refresh_token: 'rtoken', token_uri: `${tokens.url}/google/token` }),
    )
    configure({ secrets: secretsWithout(['VERTEXAI_ACCESS_TOKEN']) })
    await completion(ask('vertex_ai/claude-opus-4-7'))
    assert.equal(tokens.hits.refresh, 1)
    assert.equal(mocks.anthropic.requests.at(-1).headers.authorization, `Bearer ${GOOGLE_TOKEN}`)
    fs.rmSync(gcloud, { recursive: true })
  })

  test('the metadata server, when nothing else is set', async () => {
    configure({ secrets: secretsWithout(['VERTEXAI_ACCESS_TOKEN'], { GCE_METADATA_HOST: tokens.url.replace('http://', '') }) })
    await completion(ask('vertex_ai/claude-opus-4-7'))
    assert.equal(tokens.hits.metadata, 1)
  })

  test('a credential wait ends with an abort; a failed fetch is the answer for a moment; an absurd expires_in is capped, not a crash', async () => {
    configure({ secrets: secretsWithout(['VERTEXAI_ACCESS_TOKEN']) })
    const hang = { ...sa.key, private_key_id: 'kid-hang', token_uri: `${tokens.url}/google/hang` }
    const ac = new AbortController()
    setTimeout(() => ac.abort(), 100)
    const started = Date.now()
    const e = await completion(ask('vertex_ai/claude-opus-4-7', { vertex_credentials: JSON.stringify(hang), signal: ac.signal })).catch((x) => x)
    assert.equal(e.code, 'cancelled', String(e))
    assert.ok(Date.now() - started < 1000, 'the abort ended the wait for the token')
    const wrong = serviceAccountKey(`${tokens.url}/google/token`).key
    const before = tokens.hits.googleAttempts ?? 0
    for (let i = 0; i < 3; i++) await completion(ask('vertex_ai/claude-opus-4-7', { vertex_credentials: JSON.stringify(wrong) })).catch(() => {})
    assert.equal((tokens.hits.googleAttempts ?? 0) - before, 1, 'one failed fetch answered the next calls too')
    tokens.state.lifetime = 1e19
    const r = await completion(ask('vertex_ai/claude-opus-4-7', { vertex_credentials: JSON.stringify({ ...sa.key, private_key_id: 'kid-forever' }) }))
    assert.ok(r.choices[0].message.content)
    tokens.state.lifetime = 3600
  })

  test('a bad key or a refusing endpoint is a typed auth error, and a request may not name a key path', async () => {
    configure({ secrets: secretsWithout(['VERTEXAI_ACCESS_TOKEN']) })
    const other = serviceAccountKey(`${tokens.url}/google/token`).key // signed by a key the endpoint does not know
    const e = await completion(ask('vertex_ai/claude-opus-4-7', { vertex_credentials: JSON.stringify(other) })).catch((x) => x)
    assert.equal(e.code, 'auth', String(e))
    assert.match(e.message, /Invalid JWT Signature/)
    const p = await completion(ask('vertex_ai/claude-opus-4-7', { vertex_credentials: '/etc/passwd' })).catch((x) => x)
    assert.equal(p.code, 'invalid_request')
    const far = await completion(ask('vertex_ai/claude-opus-4-7', { vertex_credentials: JSON.stringify({ ...sa.key, token_uri: 'http://token.example/t' }) })).catch((x) => x)
    assert.match(far.message, /https/, 'a token endpoint off this machine must be https')
  })
})

describe('Bedrock: the AWS credential chain', () => {
  const noKeys = ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN']

  test('web identity (EKS IRSA): the token file traded at STS, unsigned, then SigV4 with the role keys', async () => {
    const tokenFile = path.join(dir, 'token')
    fs.writeFileSync(tokenFile, 'oidc-token\n')
    configure({
      secrets: secretsWithout(noKeys, {
        AWS_WEB_IDENTITY_TOKEN_FILE: tokenFile,
        AWS_ROLE_ARN: 'arn:aws:iam::123456789012:role/llmux',
        AWS_ENDPOINT_URL_STS: `${tokens.url}/sts`,
      }),
    })
    const r = await completion(ask('bedrock/amazon.nova-pro-v1:0'))
    assert.ok(r.choices[0].message.content, 'the SigV4-checking mock accepted the role keys')
    assert.equal(mocks.bedrock.requests.at(-1).headers['x-amz-security-token'], AWS.sessionToken)
    await completion(ask('bedrock/amazon.nova-pro-v1:0'))
    assert.equal(tokens.hits.sts, 1, 'cached until near expiry')
  })

  test('the container endpoint (ECS, EKS Pod Identity) with its authorization token file', async () => {
    const tokenFile = path.join(dir, 'pod-token')
    fs.writeFileSync(tokenFile, 'container-token')
    configure({
      secrets: secretsWithout(noKeys, {
        AWS_CONTAINER_CREDENTIALS_FULL_URI: `${tokens.url}/container/creds`,
        AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: tokenFile,
      }),
    })
    await completion(ask('bedrock/amazon.nova-pro-v1:0'))
    assert.equal(tokens.hits.container, 1)
  })

  test('a shared profile file', async () => {
    const creds = path.join(dir, 'aws-credentials')
    fs.writeFileSync(creds, `[work]\naws_access_key_id = ${AWS.accessKeyId}\naws_secret_access_key = ${AWS.secretAccessKey}\naws_session_token = ${AWS.sessionToken}\n`)
    configure({ secrets: secretsWithout(noKeys, { AWS_SHARED_CREDENTIALS_FILE: creds, AWS_PROFILE: 'work' }) })
    const r = await completion(ask('bedrock/amazon.nova-pro-v1:0'))
    assert.ok(r.choices[0].message.content)
  })

  test('nothing in the chain: a clear auth error naming what was looked for', async () => {
    configure({ secrets: secretsWithout(noKeys) })
    const e = await completion(ask('bedrock/amazon.nova-pro-v1:0')).catch((x) => x)
    assert.equal(e.code, 'auth')
    assert.match(e.message, /profile, web identity, a container role/)
  })
})

describe('Azure OpenAI: Entra ID tokens', () => {
  const noKey = ['AZURE_OPENAI_API_KEY']

  test('a service principal (client credentials), cached; sent as a bearer token, never as api-key', async () => {
    configure({
      secrets: secretsWithout(noKey, { AZURE_TENANT_ID: 'tenant-1', AZURE_CLIENT_ID: 'app-1', AZURE_CLIENT_SECRET: 'secret-1', AZURE_AUTHORITY_HOST: tokens.url }),
    })
    await streamed(ask('azure/gpt-4o'))
    await streamed(ask('azure/gpt-4o'))
    const h = mocks.azure.requests.at(-1).headers
    assert.equal(h.authorization, 'Bearer entra-test-token')
    assert.equal(h['api-key'], undefined)
    assert.equal(tokens.hits.entra, 1)
  })

  test('azure_ad_token per call, AZURE_AD_TOKEN, and a JS azureADTokenProvider asked before every call', async () => {
    configure({ secrets: secretsWithout(noKey) })
    await streamed(ask('azure/gpt-4o', { azure_ad_token: 'entra-test-token' }))
    assert.equal(mocks.azure.requests.at(-1).headers.authorization, 'Bearer entra-test-token')
    configure({ secrets: secretsWithout(noKey, { AZURE_AD_TOKEN: 'entra-test-token' }) })
    await streamed(ask('azure/gpt-4o'))
    assert.equal(mocks.azure.requests.at(-1).headers.authorization, 'Bearer entra-test-token')
    let asked = 0
    configure({ secrets: secretsWithout(noKey), azureADTokenProvider: async () => (asked++, 'entra-test-token') })
    await streamed(ask('azure/gpt-4o'))
    await streamed(ask('azure/gpt-4o'))
    assert.equal(asked, 2)
    // The process's token never goes to a host the request names.
    configure({ azureADTokenProvider: async () => (asked++, 'entra-test-token') })
    const askedBefore = asked
    const far = await streamed(ask('azure/gpt-4o', { api_base: mocks.azure.url })).catch((x) => x)
    assert.equal(far.code, 'auth', String(far))
    assert.equal(asked, askedBefore, 'the provider was not even asked')
    configure({ azureADTokenProvider: async () => '' })
    const e = await streamed(ask('azure/gpt-4o')).catch((x) => x)
    assert.equal(e.code, 'auth')
    configure({ azureADTokenProvider: null })
  })

  test('a wrong client secret is an auth error with Entra ID\'s reason', async () => {
    configure({
      secrets: secretsWithout(noKey, { AZURE_TENANT_ID: 'tenant-1', AZURE_CLIENT_ID: 'app-1', AZURE_CLIENT_SECRET: 'nope', AZURE_AUTHORITY_HOST: tokens.url }),
    })
    const e = await streamed(ask('azure/gpt-4o')).catch((x) => x)
    assert.equal(e.code, 'auth')
    assert.match(e.message, /AADSTS7000215/)
  })
})
