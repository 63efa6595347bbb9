/**
 * The runtime floor of issue 9: the least an SMTP server on this runtime can
 * do per session. A bare responder on `node:net` (as the relay's listeners
 * are) that answers every command with success, offers STARTTLS (upgraded
 * with `tls.TLSSocket` exactly as the relay does) and AUTH (any password),
 * and stores nothing. `bench/floor.ts` runs it as a child process.
 *
 * Usage: deno run --allow-net --allow-read bench/floor_server.ts CERT KEY
 * Prints `{"port":N}` once listening on 127.0.0.1.
 *
 * @module
 */

import net from "node:net";
import tls from "node:tls";

const END_OF_DATA = "\r\n.\r\n";
const latin1 = new TextDecoder("latin1");

/** Serves one SMTP session on `socket` (plain, or the TLS layer after STARTTLS). */
export function serveBare(
  socket: net.Socket,
  options: { secureContext: tls.SecureContext; secure?: boolean },
): void {
  const secure = options.secure ?? false;
  let pending = "";
  let inData = false;
  const onData = (chunk: Uint8Array) => {
    pending += latin1.decode(chunk);
    while (true) {
      if (inData) {
        const end = pending.indexOf(END_OF_DATA);
        if (end === -1) {
          // Keep only what could be the start of the end marker.
          pending = pending.slice(-(END_OF_DATA.length - 1));
          return;
        }
        pending = pending.slice(end + END_OF_DATA.length);
        inData = false;
        socket.write("250 2.0.0 Ok: stored nowhere\r\n");
        continue;
      }
      const eol = pending.indexOf("\r\n");
      if (eol === -1) return;
      const verb = pending.slice(0, Math.min(eol, 8)).toUpperCase();
      pending = pending.slice(eol + 2);
      if (verb.startsWith("EHLO")) {
        socket.write(
          `250-floor.bench\r\n250-PIPELINING\r\n${secure ? "250-AUTH PLAIN" : "250-STARTTLS"}\r\n` +
            "250 8BITMIME\r\n",
        );
      } else if (verb.startsWith("STARTTLS") && !secure) {
        socket.removeListener("data", onData);
        socket.pause();
        socket.write("220 2.0.0 Ready to start TLS\r\n", () => {
          const layer = new tls.TLSSocket(socket, {
            isServer: true,
            secureContext: options.secureContext,
          });
          layer.on("error", () => layer.destroy());
          layer.on("secure", () => serveBare(layer, { ...options, secure: true }));
        });
        return;
      } else if (verb.startsWith("AUTH")) {
        socket.write("235 2.7.0 Authentication successful\r\n");
      } else if (verb.startsWith("DATA")) {
        inData = true;
        socket.write("354 End data with <CR><LF>.<CR><LF>\r\n");
      } else if (verb.startsWith("QUIT")) {
        socket.end("221 2.0.0 Bye\r\n");
        return;
      } else {
        socket.write("250 2.0.0 Ok\r\n");
      }
    }
  };
  socket.on("data", onData);
}

/** Listens on 127.0.0.1 (a free port); resolves with the server and its port. */
export function listenBare(
  secureContext: tls.SecureContext,
): Promise<{ server: net.Server; port: number }> {
  const server = net.createServer((socket) => {
    socket.setNoDelay(true);
    socket.on("error", () => socket.destroy());
    socket.write("220 floor.bench ESMTP\r\n");
    serveBare(socket, { secureContext });
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      resolve({ server, port: (server.address() as net.AddressInfo).port });
    });
  });
}

if (import.meta.main) {
  const [cert, key] = Deno.args;
  if (!cert || !key) {
    console.error("Usage: floor_server.ts CERT KEY");
    Deno.exit(2);
  }
  const secureContext = tls.createSecureContext({
    cert: Deno.readTextFileSync(cert),
    key: Deno.readTextFileSync(key),
  });
  const { port } = await listenBare(secureContext);
  console.log(JSON.stringify({ port }));
}
