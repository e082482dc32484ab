// A stand-in for the browser's WebSocket, for the client's fast unit tests
// (the real agent is exercised by agent.test.mjs and the e2e tests). It
// records what the client sends and lets the test answer in any order.
export class FakeSocket {
  constructor(url, { refuse = false, hello = defaultHello } = {}) {
    this.url = url;
    this.sent = [];
    this.closed = false;
    this.hello = hello;
    this.onopen = this.onclose = this.onerror = this.onmessage = null;
    queueMicrotask(() => {
      if (refuse) {
        this.onerror?.({});
        this.onclose?.({ code: 1006, reason: "" });
      } else {
        this.onopen?.({});
      }
    });
  }

  send(text) {
    if (this.closed) throw new Error("socket closed");
    const msg = JSON.parse(text);
    this.sent.push(msg);
    if (msg.type === "hello" && this.hello) {
      queueMicrotask(() => this.recv({ id: msg.id, result: this.hello }));
    }
  }

  recv(obj) {
    this.onmessage?.({ data: typeof obj === "string" ? obj : JSON.stringify(obj) });
  }

  /** The agent (or the network) ends the connection. */
  drop(code = 1006, reason = "") {
    this.closed = true;
    this.onclose?.({ code, reason });
  }

  close(code = 1000) {
    if (this.closed) return;
    this.closed = true;
    queueMicrotask(() => this.onclose?.({ code, reason: "" }));
  }

  last(type) {
    return [...this.sent].reverse().find((m) => m.type === type);
  }
}

export const defaultHello = {
  server: "eid-agent", version: "9.9.9", protocol: 1, protocols: [1],
  features: ["readers", "events", "read", "isi"], origin: "http://127.0.0.1:1",
};

/** connect() options using a FakeSocket; the socket is in holder.socket. */
export function fakeOptions(holder, socketOpts) {
  return {
    probe: false,
    createSocket: (url) => (holder.socket = new FakeSocket(url, socketOpts)),
  };
}
