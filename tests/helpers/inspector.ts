/**
 * Talks to a relay process started with `--inspect=127.0.0.1:0` over the V8
 * inspector protocol: forces a full garbage collection and reads the heap in
 * use, so a test can tell memory a server keeps from garbage not yet collected.
 *
 * @module
 */

/** The inspector address a process printed ("Debugger listening on ws://..."), or null. */
export function inspectorUrl(outputLines: string[]): string | null {
  for (const line of outputLines) {
    const match = /Debugger listening on (ws:\/\/\S+)/.exec(line);
    if (match) return match[1];
  }
  return null;
}

/** One inspector session. */
export class Inspector implements AsyncDisposable {
  #ws: WebSocket;
  #next = 0;
  #pending = new Map<number, (result: Record<string, unknown>) => void>();

  private constructor(ws: WebSocket) {
    this.#ws = ws;
    ws.onmessage = (event) => {
      const message = JSON.parse(String(event.data));
      const resolve = this.#pending.get(message.id);
      if (resolve) {
        this.#pending.delete(message.id);
        resolve(message.result ?? {});
      }
    };
  }

  static async connect(url: string): Promise<Inspector> {
    const ws = new WebSocket(url);
    await new Promise((resolve, reject) => {
      ws.onopen = resolve;
      ws.onerror = () => reject(new Error(`cannot reach the inspector at ${url}`));
    });
    return new Inspector(ws);
  }

  call(method: string, params: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    const id = ++this.#next;
    const result = new Promise<Record<string, unknown>>((resolve) =>
      this.#pending.set(id, resolve)
    );
    this.#ws.send(JSON.stringify({ id, method, params }));
    return result;
  }

  /** Bytes of V8 heap in use after a full collection. */
  async heapUsedAfterGc(): Promise<number> {
    await this.call("HeapProfiler.enable");
    await this.call("HeapProfiler.collectGarbage");
    const usage = await this.call("Runtime.getHeapUsage");
    return usage.usedSize as number;
  }

  [Symbol.asyncDispose](): Promise<void> {
    const closed = new Promise((resolve) => this.#ws.onclose = resolve);
    this.#ws.close();
    return closed.then(() => {});
  }
}
