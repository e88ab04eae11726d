// Loopback mocks of the token endpoints llmux trades credentials at, as strict as the real
// ones on what they check:
// - Google's OAuth token endpoint, JWT-bearer grant (developers.google.com/identity/protocols/
//   oauth2/service-account): an RS256 assertion signed by the key, iss = the service account,
//   scope cloud-platform, aud = the token URI, exp = iat + at most 3600; and the refresh grant
//   of `authorized_user` files;
// - the GCE metadata server (Metadata-Flavor: Google, both ways);
// - STS AssumeRoleWithWebIdentity (unsigned form POST, Version 2011-06-15, XML answer);
// - the ECS/EKS container credentials endpoint (Authorization token, JSON answer);
// - Entra ID's client-credentials grant (/{tenant}/oauth2/v2.0/token).
import crypto from 'node:crypto'
import { listen, AWS } from './mock-providers.mjs'

export const GOOGLE_TOKEN = 'ya29.vertex-test'
export const ENTRA_TOKEN = 'entra-test-token'

const b64url = (s) => Buffer.from(s, 'base64url')
const form = (raw) => Object.fromEntries(new URLSearchParams(raw.toString('utf8')))

export function serviceAccountKey(tokenUri) {
  const { privateKey, publicKey } = crypto.generateKeyPairSync('rsa', {
    modulusLength: 2048,
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  })
  const key = {
    type: 'service_account',
    project_id: 'proj',
    private_key_id: 'kid-1',
    private_key: privateKey,
    client_email: 'llmux-test@proj.iam.gserviceaccount.com',
    client_id: '1',
    token_uri: tokenUri,
  }
  return { key, publicKey }
}

/**
 * Starts the token mocks. `publicKey` verifies service-account assertions; `lifetime` is the
 * `expires_in` of the tokens handed out. `hits` counts answers per endpoint.
 */
export async function startTokenMocks({ publicKey, lifetime = 3600, webIdentityToken = 'oidc-token', containerToken = 'container-token' } = {}) {
  const hits = { google: 0, refresh: 0, metadata: 0, sts: 0, container: 0, entra: 0 }
  const state = { publicKey, lifetime }
  const oauthError = (res, status, error, description) => {
    res.writeHead(status, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ error, error_description: description }))
  }
  const server = await listen((req, res, r) => {
    const url = new URL(req.url, 'http://x')
    // A token endpoint that never answers (a dead network path).
    if (url.pathname === '/google/hang') return
    if (req.method === 'POST' && url.pathname === '/google/token') {
      hits.googleAttempts = (hits.googleAttempts ?? 0) + 1
      const f = form(r.raw)
      if (req.headers['content-type'] !== 'application/x-www-form-urlencoded') return oauthError(res, 400, 'invalid_request', 'form body required')
      if (f.grant_type === 'refresh_token') {
        if (f.client_id !== 'cid' || f.client_secret !== 'csecret' || f.refresh_token !== 'rtoken') return oauthError(res, 400, 'invalid_grant', 'Bad Request')
        hits.refresh++
        res.writeHead(200, { 'content-type': 'application/json' })
        return res.end(JSON.stringify({ access_token: GOOGLE_TOKEN, expires_in: state.lifetime, token_type: 'Bearer', scope: 'https://www.googleapis.com/auth/cloud-platform' }))
      }
      if (f.grant_type !== 'urn:ietf:params:oauth:grant-type:jwt-bearer') return oauthError(res, 400, 'unsupported_grant_type', 'Invalid grant_type')
      const parts = (f.assertion ?? '').split('.')
      if (parts.length !== 3) return oauthError(res, 400, 'invalid_grant', 'Invalid JWT')
      const header = JSON.parse(b64url(parts[0]))
      const claims = JSON.parse(b64url(parts[1]))
      const ok = crypto.verify('RSA-SHA256', Buffer.from(`${parts[0]}.${parts[1]}`), state.publicKey, b64url(parts[2]))
      if (header.alg !== 'RS256' || !ok) return oauthError(res, 400, 'invalid_grant', 'Invalid JWT Signature.')
      const now = Math.floor(Date.now() / 1000)
      if (claims.iss !== 'llmux-test@proj.iam.gserviceaccount.com') return oauthError(res, 400, 'invalid_grant', 'Invalid issuer')
      if (claims.scope !== 'https://www.googleapis.com/auth/cloud-platform') return oauthError(res, 400, 'invalid_scope', 'Invalid scope')
      if (claims.aud !== `${server.url}/google/token`) return oauthError(res, 400, 'invalid_grant', 'Invalid JWT: aud')
      if (Math.abs(claims.iat - now) > 300 || claims.exp - claims.iat > 3600 || claims.exp <= now) {
        return oauthError(res, 400, 'invalid_grant', 'Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe.')
      }
      hits.google++
      res.writeHead(200, { 'content-type': 'application/json' })
      return res.end(JSON.stringify({ access_token: GOOGLE_TOKEN, expires_in: state.lifetime, token_type: 'Bearer' }))
    }
    if (req.method === 'GET' && url.pathname === '/computeMetadata/v1/instance/service-accounts/default/token') {
      if (req.headers['metadata-flavor'] !== 'Google') {
        res.writeHead(403, { 'content-type': 'text/html' })
        return res.end('Missing Metadata-Flavor:Google header.')
      }
      hits.metadata++
      res.writeHead(200, { 'content-type': 'application/json', 'metadata-flavor': 'Google' })
      return res.end(JSON.stringify({ access_token: GOOGLE_TOKEN, expires_in: state.lifetime, token_type: 'Bearer' }))
    }
    if (req.method === 'POST' && url.pathname === '/sts/') {
      const f = form(r.raw)
      const fault = (code, message) => {
        res.writeHead(400, { 'content-type': 'text/xml' })
        res.end(`<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>${code}</Code><Message>${message}</Message></Error></ErrorResponse>`)
      }
      if (req.headers.authorization) return fault('InvalidAction', 'AssumeRoleWithWebIdentity is called unsigned')
      if (f.Action !== 'AssumeRoleWithWebIdentity' || f.Version !== '2011-06-15') return fault('InvalidAction', 'Could not find operation')
      if (f.RoleArn !== 'arn:aws:iam::123456789012:role/llmux' || !f.RoleSessionName) return fault('ValidationError', 'RoleArn and RoleSessionName are required')
      if (f.WebIdentityToken !== webIdentityToken) return fault('InvalidIdentityToken', 'Couldn\'t retrieve verification key from your identity provider')
      hits.sts++
      const exp = new Date(Date.now() + state.lifetime * 1000).toISOString().replace(/\.\d+Z$/, 'Z')
      res.writeHead(200, { 'content-type': 'text/xml' })
      return res.end(`<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleWithWebIdentityResult>
    <Credentials>
      <AccessKeyId>${AWS.accessKeyId}</AccessKeyId>
      <SecretAccessKey>${AWS.secretAccessKey}</SecretAccessKey>
      <SessionToken>${AWS.sessionToken}</SessionToken>
      <Expiration>${exp}</Expiration>
    </Credentials>
  </AssumeRoleWithWebIdentityResult>
  <ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata>
</AssumeRoleWithWebIdentityResponse>`)
    }
    if (req.method === 'GET' && url.pathname === '/container/creds') {
      if (req.headers.authorization !== containerToken) {
        res.writeHead(401, { 'content-type': 'application/json' })
        return res.end(JSON.stringify({ Code: 'AccessDenied', Message: 'unauthorized' }))
      }
      hits.container++
      res.writeHead(200, { 'content-type': 'application/json' })
      return res.end(
        JSON.stringify({ AccessKeyId: AWS.accessKeyId, SecretAccessKey: AWS.secretAccessKey, Token: AWS.sessionToken, Expiration: new Date(Date.now() + state.lifetime * 1000).toISOString(), RoleArn: 'arn:aws:iam::1:role/task' }),
      )
    }
    const entra = /^\/([\w.-]+)\/oauth2\/v2\.0\/token$/.exec(url.pathname)
    if (req.method === 'POST' && entra) {
      const f = form(r.raw)
      if (entra[1] !== 'tenant-1') return oauthError(res, 400, 'invalid_request', 'AADSTS90002: Tenant not found.')
      if (f.grant_type !== 'client_credentials') return oauthError(res, 400, 'unsupported_grant_type', 'AADSTS70003')
      if (f.client_id !== 'app-1' || f.client_secret !== 'secret-1') return oauthError(res, 401, 'invalid_client', 'AADSTS7000215: Invalid client secret provided.')
      if (f.scope !== 'https://cognitiveservices.azure.com/.default') return oauthError(res, 400, 'invalid_scope', 'AADSTS70011')
      hits.entra++
      res.writeHead(200, { 'content-type': 'application/json' })
      return res.end(JSON.stringify({ token_type: 'Bearer', expires_in: state.lifetime, access_token: ENTRA_TOKEN }))
    }
    res.writeHead(404)
    res.end()
  })
  return { ...server, hits, state }
}
