import Fastify, { type FastifyInstance } from "fastify";
import { afterEach, describe, expect, it } from "vitest";
import { consolePlugin } from "../../src/console/index.js";

describe("console plugin", () => {
  let app: FastifyInstance | null = null;
  afterEach(async () => {
    await app?.close();
    app = null;
  });

  it("serves the app's three files under the prefix with a strict CSP, and nothing else", async () => {
    app = Fastify();
    await app.register(consolePlugin, { prefix: "/ui" });
    const page = await app.inject({ url: "/ui/", headers: { host: "127.0.0.1:8545" } });
    expect(page.statusCode).toBe(200);
    expect(page.headers["content-type"]).toBe("text/html; charset=utf-8");
    expect(page.body).toContain('<script src="/ui/app.js">');
    const csp = String(page.headers["content-security-policy"]);
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("connect-src 'self' ws://127.0.0.1:8545 wss://127.0.0.1:8545");
    const js = await app.inject({ url: "/ui/app.js" });
    expect(js.headers["content-type"]).toBe("text/javascript; charset=utf-8");
    expect(js.body).toContain("eth_subscribe");
    expect((await app.inject({ url: "/ui/style.css" })).headers["content-type"]).toBe(
      "text/css; charset=utf-8",
    );
    expect((await app.inject({ url: "/ui/plugin.ts" })).statusCode).toBe(404);
    expect((await app.inject({ url: "/ui/../server.ts" })).statusCode).toBe(404);
    // A forged Host header does not reach the CSP.
    const forged = await app.inject({ url: "/ui/", headers: { host: "evil; script-src *" } });
    expect(String(forged.headers["content-security-policy"])).toContain("connect-src 'self';");
  });
});
