import { execFile } from "node:child_process";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CliError } from "../../src/cli/args.js";
import { type RpcEndpoint, rpcBatch, rpcRequest } from "../../src/cli/rpcClient.js";
import { freePort } from "../../src/util/ports.js";
import { type TestTokens, TokenNode } from "../rpc/tokens.js";

/** The CLI's JSON-RPC client (consort gov, status, proof) against a real node with bearer tokens, and what else
 * an operator's --rpc may point at: nothing, a silent port, a web server that is not a node. */

async function refusal(p: Promise<unknown>): Promise<CliError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(CliError);
  expect((err as CliError).code).toBe("CLI_RPC");
  return err as CliError;
}

describe("CLI JSON-RPC client against a node with rpc.auth", () => {
  let chain: TokenNode;
  let tokens: TestTokens;
  let endpoint: RpcEndpoint;

  beforeAll(async () => {
    chain = await TokenNode.start();
    tokens = chain.tokens;
    endpoint = { url: chain.url, timeoutMs: 5_000 };
  });
  afterAll(async () => {
    await chain?.stop();
  });

  it("sends the token; without one, the refusal names the node's reason and how to give a token", async () => {
    const token = await tokens.issue("ops", ["read"]);
    expect(await rpcRequest<string>({ ...endpoint, token }, "eth_blockNumber", [])).toBe("0x0");
    const [height, chainId] = await rpcBatch({ ...endpoint, token }, [
      ["eth_blockNumber", []],
      ["eth_chainId", []],
    ]);
    expect([height, chainId]).toEqual(["0x0", "0x4ee8"]);

    const err = await refusal(rpcRequest(endpoint, "eth_blockNumber", []));
    expect(err.message).toContain(
      `${endpoint.url} refused eth_blockNumber: unauthorized: missing credentials`,
    );
    expect(err.message).toContain("--token JWT");
    expect(err.meta.reason).toMatch(/^HTTP 401: unauthorized: missing credentials/);
  });

  it("consort gov and proof pass --token on (status: test/cli/status)", async () => {
    const main = path.join(import.meta.dirname, "../../src/cli/main.ts");
    const consort = (...args: string[]) =>
      promisify(execFile)(process.execPath, ["--import", "tsx", main, ...args], { timeout: 60_000 });
    const token = await tokens.issue("ops", ["read"]);
    const { stdout } = await consort("gov", "committee", "--rpc", endpoint.url, "--token", token, "--json");
    expect(JSON.parse(stdout).governors).toHaveLength(1);
    await expect(consort("gov", "committee", "--rpc", endpoint.url)).rejects.toMatchObject({
      stderr: expect.stringContaining("--token JWT"),
    });
    const missing = `0x${"11".repeat(32)}`;
    await expect(
      consort("proof", "verify", missing, "--rpc", endpoint.url, "--token", token),
    ).rejects.toMatchObject({
      stderr: expect.stringContaining(`transaction ${missing} is not committed`),
    });
  });

  it("a JSON-RPC error comes back as the method and the node's message", async () => {
    const token = await tokens.issue("ops", ["read"]);
    const err = await refusal(rpcRequest({ ...endpoint, token }, "eth_getBalance", ["not-an-address"]));
    expect(err.message).toMatch(/^eth_getBalance: /);
    const batchErr = await refusal(
      rpcBatch({ ...endpoint, token }, [
        ["eth_blockNumber", []],
        ["no_such_method", []],
      ]),
    );
    expect(batchErr.message).toMatch(/^no_such_method: /);
  });
});

describe("CLI JSON-RPC client: endpoints that are not a working node", () => {
  const servers: Server[] = [];
  const serve = async (handler: Parameters<typeof createServer>[1]): Promise<string> => {
    const server = createServer(handler);
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  };
  afterAll(async () => {
    for (const s of servers) s.closeAllConnections();
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  });

  it("nothing listening: says so, with ECONNREFUSED and the hint", async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    const err = await refusal(rpcRequest({ url, timeoutMs: 5_000 }, "eth_blockNumber", []));
    expect(err.message).toBe(
      `cannot reach ${url} (ECONNREFUSED): is the node running? (--rpc URL names another)`,
    );
    expect(err.meta.reason).toBe("ECONNREFUSED");
  });

  it("a port that never answers: the timeout, named", async () => {
    const url = await serve(() => {}); // takes the request, never replies
    const err = await refusal(rpcRequest({ url, timeoutMs: 200 }, "eth_blockNumber", []));
    expect(err.message).toBe(`${url} did not answer eth_blockNumber within 200 ms`);
  });

  it("a web server that is not a node: its HTTP status, not a JSON parse error", async () => {
    const url = await serve((_req, res) => {
      res.writeHead(502, { "content-type": "text/html" });
      res.end("<html>bad gateway</html>");
    });
    const err = await refusal(rpcRequest({ url, timeoutMs: 5_000 }, "eth_blockNumber", []));
    expect(err.message).toBe(`${url} answered eth_blockNumber with HTTP 502, not JSON-RPC`);
    const batch = await refusal(rpcBatch({ url, timeoutMs: 5_000 }, [["eth_blockNumber", []]]));
    expect(batch.meta.reason).toBe("HTTP 502, not JSON-RPC");
  });
});
