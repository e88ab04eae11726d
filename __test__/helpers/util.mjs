// Small test helpers: a Writable that records what llmux writes, and amplify line parsing.
import { Writable } from 'node:stream'

export class Recorder extends Writable {
  constructor(opts) {
    super(opts)
    this.text = ''
  }
  _write(chunk, _enc, cb) {
    this.text += chunk.toString()
    cb()
  }
  /** The JSON of every `data:` line, in order. */
  events() {
    return this.text
      .split('\n\n')
      .filter(Boolean)
      .map((l) => {
        if (!l.startsWith('data: ')) throw new Error(`not an amplify line: ${l}`)
        return JSON.parse(l.slice(6))
      })
  }
}

/** The text the user saw: the concatenated `{"s":0,"d":...}` deltas. */
export const userText = (events) => events.filter((e) => e.s === 0 && typeof e.d === 'string').map((e) => e.d).join('')
