// Gateway `compress=zlib-stream`: one zlib stream per connection, each message ending in a sync
// flush, inflated by the browser's DecompressionStream. Its output is a byte stream without
// message boundaries, so whole JSON payloads are cut out of it by tracking brace depth.

export const supported = typeof DecompressionStream === "function" && typeof TextDecoderStream === "function";

export class ZlibStream {
  // onPayload(text): called once per gateway payload, in order.
  constructor(onPayload) {
    const inflate = new DecompressionStream("deflate");
    this.writer = inflate.writable.getWriter();
    this.reader = inflate.readable.pipeThrough(new TextDecoderStream()).getReader();
    this.onPayload = onPayload;
    this.pending = "";
    this.depth = 0;
    this.inString = false;
    this.escaped = false;
    this.closed = false;
    this.pump();
  }

  push(bytes) {
    if (!this.closed) this.writer.write(bytes).catch(() => this.close());
  }

  close() {
    this.closed = true;
    this.writer.abort().catch(() => {});
    this.reader.cancel().catch(() => {});
  }

  async pump() {
    try {
      for (;;) {
        const { value, done } = await this.reader.read();
        if (done || this.closed) return;
        this.scan(value);
      }
    } catch {
      this.close();
    }
  }

  // Payloads are JSON objects back to back: one ends where its braces close (outside strings).
  scan(text) {
    let start = 0;
    for (let i = 0; i < text.length; i += 1) {
      const c = text[i];
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (c === "\\") this.escaped = true;
        else if (c === '"') this.inString = false;
      } else if (c === '"') this.inString = true;
      else if (c === "{") this.depth += 1;
      else if (c === "}") {
        this.depth -= 1;
        if (this.depth === 0) {
          const payload = this.pending + text.slice(start, i + 1);
          this.pending = "";
          start = i + 1;
          this.onPayload(payload);
        }
      }
    }
    this.pending += text.slice(start);
  }
}
