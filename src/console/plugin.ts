import { readFileSync } from "node:fs";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";

/** The console's files: plain HTML/JS/CSS served as they are (no build step), read once at registration. */
const ASSETS: Record<string, string> = {
  "index.html": "text/html; charset=utf-8",
  "app.js": "text/javascript; charset=utf-8",
  "style.css": "text/css; charset=utf-8",
};
const HOST_HEADER = /^[A-Za-z0-9.\-:[\]]{1,255}$/;

/**
 * The web console as a fastify plugin: register it on the RPC server with `{ prefix: "/ui" }`. The page talks
 * JSON-RPC to the same origin (POST / and the WebSocket on /), so it has exactly the access the RPC gives that
 * browser. Routes: /ui/ (the app; client-side routes after #), /ui/app.js, /ui/style.css.
 */
export async function consolePlugin(app: FastifyInstance): Promise<void> {
  const files = new Map<string, Buffer>();
  for (const name of Object.keys(ASSETS)) {
    files.set(name, readFileSync(new URL(`./ui/${name}`, import.meta.url)));
  }
  const serve = (name: string) => (req: FastifyRequest, reply: FastifyReply) => {
    const host = req.headers.host && HOST_HEADER.test(req.headers.host) ? req.headers.host : "";
    // connect-src: JSON-RPC over fetch and the live WebSocket, both to this same server only.
    const connect = host ? `'self' ws://${host} wss://${host}` : "'self'";
    return reply
      .header("content-type", ASSETS[name])
      .header("cache-control", "no-cache")
      .header("x-content-type-options", "nosniff")
      .header("referrer-policy", "no-referrer")
      .header(
        "content-security-policy",
        `default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src ${connect}; frame-ancestors 'none'; base-uri 'none'; form-action 'none'`,
      )
      .send(files.get(name));
  };
  app.get("/", serve("index.html"));
  for (const name of Object.keys(ASSETS)) app.get(`/${name}`, serve(name));
}
