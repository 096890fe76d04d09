/**
 * Server-sent events cut out of a byte stream with their own bytes, for `resilientFetch`: the attempt loop
 * needs each event's data (to find the first event of substance, to accumulate usage and finish reasons) and
 * the SDK behind the fetch needs the bytes as the server sent them. openai-node's parser (and
 * eventsource-parser) give the data but not the bytes it came in, so this small one is written by hand, to
 * the WHATWG rules: lines end in CRLF, LF or CR; a blank line ends an event; `data` lines join with LF; a
 * line starting with `:` is a comment.
 */

/** One event and its bytes; `data` is undefined for a block with no data lines (a comment, a keep-alive). */
export interface SseBlock {
  raw: Uint8Array;
  event: string | undefined;
  data: string | undefined;
}

const encoder = new TextEncoder();

/** Feeds bytes in, hands whole events out; `flush()` gives what is left when the stream ends. */
export class SseSplitter {
  readonly #decoder = new TextDecoder();
  #pending = '';

  push(chunk: Uint8Array): SseBlock[] {
    this.#pending += this.#decoder.decode(chunk, { stream: true });
    const blocks: SseBlock[] = [];
    for (;;) {
      const end = blockEnd(this.#pending);
      if (end < 0) return blocks;
      const text = this.#pending.slice(0, end);
      this.#pending = this.#pending.slice(end);
      blocks.push(parseBlock(text));
    }
  }

  /** The bytes of an unterminated last event, if any (passed on as they are; never parsed as an event). */
  flush(): Uint8Array | undefined {
    this.#pending += this.#decoder.decode();
    const rest = this.#pending;
    this.#pending = '';
    return rest === '' ? undefined : encoder.encode(rest);
  }
}

/** The index just past the blank line that ends the first event in `text`, or -1. */
function blockEnd(text: string): number {
  // A CR followed by LF is one line end, never two.
  const match = /(\r\n|\n|\r(?!\n))(\r\n|\n|\r(?!\n))/.exec(text);
  if (!match) return -1;
  // A CR at the very end may be the first half of a CRLF still on its way.
  const end = match.index + match[0].length;
  if (match[0].endsWith('\r') && end === text.length) return -1;
  return end;
}

function parseBlock(text: string): SseBlock {
  let event: string | undefined;
  const data: string[] = [];
  for (const line of text.split(/\r\n|\n|\r/)) {
    if (line === '' || line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') event = value;
    else if (field === 'data') data.push(value);
  }
  return { raw: encoder.encode(text), event, data: data.length > 0 ? data.join('\n') : undefined };
}
