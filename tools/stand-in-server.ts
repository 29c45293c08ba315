/**
 * The HTTP plumbing the stand-ins share: serve a handler (a thrown error is a
 * 500 with a JSON body, as Google APIs answer), listen on a port, close with
 * every connection, and read a request's body.
 *
 * `serve` speaks HTTP/1.1. `serveWithHttp2` speaks HTTP/1.1 and HTTP/2 over
 * cleartext (h2c with prior knowledge) on the same port, for a stand-in whose
 * real API is reached over HTTP/2 by its client library (FCM: firebase-admin's
 * `sendEach`) while tools and tests still inspect it with plain `fetch`.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttp2Server, type Http2ServerRequest, type Http2ServerResponse, type ServerHttp2Session } from "node:http2";
import { createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from "node:net";
import type { Readable } from "node:stream";

export interface Served {
  url: string;
  port: number;
  close(): Promise<void>;
}

/** A request and response of either protocol: http2's compatibility API has the shape of node:http's. */
export type AnyRequest = IncomingMessage | Http2ServerRequest;
export type AnyResponse = ServerResponse | Http2ServerResponse;

export interface ServedWithHttp2 extends Served {
  /** Connections open now, by protocol (an HTTP/2 session is one connection however many streams it carries). */
  openConnections(): { http1: number; http2: number };
}

interface ServeOptions {
  port?: number;
  host?: string;
  keepAliveTimeoutMs?: number;
}

/** Answers what the handler threw as Google APIs answer an internal error. */
function guarded<Req, Res extends AnyResponse>(handle: (req: Req, res: Res) => Promise<void>): (req: Req, res: Res) => void {
  return (req, res) => {
    handle(req, res).catch((err: unknown) => {
      res.writeHead(500, { "Content-Type": "application/json" });
      res.end(JSON.stringify({ error: { code: 500, message: String(err), status: "INTERNAL" } }));
    });
  };
}

async function listen(server: Server | NetServer, options: ServeOptions): Promise<{ url: string; port: number }> {
  const host = options.host ?? "127.0.0.1";
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return { url: `http://${host}:${port}`, port };
}

export async function serve(handle: (req: IncomingMessage, res: ServerResponse) => Promise<void>, options: ServeOptions = {}): Promise<Served> {
  const server: Server = createServer(guarded(handle));
  if (options.keepAliveTimeoutMs !== undefined) server.keepAliveTimeout = options.keepAliveTimeoutMs;
  const address = await listen(server, options);
  return {
    ...address,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * The HTTP/2 connection preface a client sends first with prior knowledge
 * (RFC 9113 §3.4). No HTTP/1.x request line can begin with it, so its first
 * bytes tell the two protocols apart before either server sees the connection.
 */
const HTTP2_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");

/**
 * Serves `handle` over HTTP/1.1 and over HTTP/2 cleartext on one port.
 *
 * Node has no server that negotiates the two without TLS (`allowHTTP1` needs
 * ALPN), so a plain TCP server reads the first bytes of each connection,
 * puts them back (`unshift`) and hands the socket to the HTTP/2 server when
 * they are the HTTP/2 preface, else to the HTTP/1.1 server. Both servers run
 * the same handler through http2's compatibility API.
 */
export async function serveWithHttp2(
  handle: (req: AnyRequest, res: AnyResponse) => Promise<void>,
  options: ServeOptions & { maxConcurrentStreams?: number } = {},
): Promise<ServedWithHttp2> {
  const http1 = createServer(guarded(handle));
  if (options.keepAliveTimeoutMs !== undefined) http1.keepAliveTimeout = options.keepAliveTimeoutMs;
  const settings = options.maxConcurrentStreams === undefined ? {} : { maxConcurrentStreams: options.maxConcurrentStreams };
  const http2 = createHttp2Server({ settings }, guarded(handle));
  /** Every accepted socket (sniffed or not yet), so close() can cut them all; and those that went to HTTP/1.1. */
  const sockets = new Set<Socket>();
  const http1Sockets = new Set<Socket>();
  const sessions = new Set<ServerHttp2Session>();
  http2.on("session", (session: ServerHttp2Session) => {
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
  });
  // A client that goes away mid-stream (or is cut off by close()) is not the stand-in's error.
  http2.on("sessionError", () => undefined);

  const sniffer = createNetServer((socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      const compared = Math.min(head.length, HTTP2_PREFACE.length);
      const isHttp2 = head.subarray(0, compared).equals(HTTP2_PREFACE.subarray(0, compared));
      // Wait for more bytes only while they could still be the preface.
      if (isHttp2 && compared < HTTP2_PREFACE.length) return;
      socket.off("data", onData);
      socket.pause();
      socket.unshift(head);
      if (isHttp2) {
        // The session drains the unshifted bytes itself, then reads the socket's handle natively:
        // resuming the JS stream here would race it for the bytes (GOAWAY INTERNAL_ERROR).
        http2.emit("connection", socket);
        return;
      }
      http1Sockets.add(socket);
      socket.once("close", () => http1Sockets.delete(socket));
      http1.emit("connection", socket);
      // The HTTP/1.1 server reads through the stream's 'data' events, which stay paused until resumed.
      socket.resume();
    };
    socket.on("data", onData);
    socket.on("error", () => undefined);
  });
  const address = await listen(sniffer, options);
  return {
    ...address,
    openConnections: () => ({ http1: http1Sockets.size, http2: sessions.size }),
    close: () =>
      new Promise<void>((resolve) => {
        // Promptly, like `serve`: every session and socket is cut, whatever it is doing.
        for (const session of sessions) session.destroy();
        sniffer.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      }),
  };
}

export function readBody(req: Readable): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}
