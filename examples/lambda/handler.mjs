// An amplify-style Lambda handler (nodejs22.x, function URL with invokeMode RESPONSE_STREAM):
// streams a chat to the caller as amplify's `data:` lines with llmux's callLiteLLM, with the
// secrets provider, usage recording and the kill switch wired as amplify wires them.
//
//   export const handler = createHandler({ secrets, recordUsage, isKilled })
//
// In the Lambda runtime `awslambda` is a global; createHandler takes it as an argument so the
// handler can run under a local emulation of the streaming runtime (see __test__/lambda.test.mjs).
import { configure, callLiteLLM } from 'llmux'

/**
 * hooks.secrets: async () => ({ OPENAI_API_KEY, ... }) (amplify: Secrets Manager, cached by llmux for 5 min)
 * hooks.recordUsage: amplify's recordUsage(account, requestId, model, input, output, cached, details)
 * hooks.isKilled: async (account, requestId) => boolean (amplify: the DynamoDB kill flag)
 */
export function createHandler(hooks, runtime = globalThis.awslambda) {
  configure({
    secrets: hooks.secrets,
    secretsTtlMs: 300_000,
    onUsage: hooks.recordUsage,
    isKilled: hooks.isKilled,
    killPollMs: 500,
  })
  return runtime.streamifyResponse(async (event, responseStream, context) => {
    const body = typeof event.body === 'string' ? JSON.parse(event.body) : event.body
    const stream = runtime.HttpResponseStream.from(responseStream, {
      statusCode: 200,
      headers: { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' },
    })
    // Abort the upstream call if the Lambda is about to time out, leaving time to record usage.
    const controller = new AbortController()
    const left = context?.getRemainingTimeInMillis?.() ?? 900_000
    const timer = setTimeout(() => controller.abort(), Math.max(0, left - 2_000))
    try {
      return await callLiteLLM(body.chatRequest, body.model, body.account, stream, body.dataSources ?? [], true, { signal: controller.signal })
    } catch (e) {
      // callLiteLLM has already written the user-facing message and ended the stream.
      console.error(JSON.stringify({ error: e.code, message: e.message, requestId: body.chatRequest?.options?.requestId }))
      return null
    } finally {
      clearTimeout(timer)
    }
  })
}

export const handler = globalThis.awslambda
  ? createHandler({
      secrets: async () => ({ OPENAI_API_KEY: process.env.OPENAI_API_KEY }),
      recordUsage: (account, requestId, model, input, output, cached) =>
        console.log(JSON.stringify({ usage: { user: account?.user, requestId, model: model?.id ?? model, input, output, cached } })),
      isKilled: async () => false,
    })
  : undefined
