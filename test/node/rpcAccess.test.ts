import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { Agent, request } from "node:https";
import path from "node:path";
import { FetchRequest, JsonRpcProvider, Wallet } from "ethers";
import { createPublicClient, createWalletClient, defineChain, http, type PublicClient } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConsortNode } from "../../src/node/index.js";
import { initCa, issueCertificate } from "../../src/rpc/ca.js";
import { silentLogger } from "../../src/util/logger.js";
import { type TestTokens, TokenNode } from "../rpc/tokens.js";
import { CHAIN_ID, pollReceipt, rpcUrl, SingleNodeNet } from "./helpers.js";

/**
 * Acceptance (issue 13) on a real in-process node: ethers and viem with bearer tokens (submit: read and send; read:
 * a send is refused with HTTP 403 and a JSON-RPC error; none/expired/forged: HTTP 401), and HTTPS with client
 * certificates from the chain's CA (another CA's certificate fails the handshake; the node keeps serving).
 */

const TO = "0x00000000000000000000000000000000000000aa";

interface ViemError extends Error {
  details?: string;
  metaMessages?: string[];
  walk(fn: (e: unknown) => boolean): unknown;
}
const chain = defineChain({
  id: Number(CHAIN_ID),
  name: "consort",
  nativeCurrency: { name: "ether", symbol: "ETH", decimals: 18 },
  rpcUrls: { default: { http: ["http://127.0.0.1"] } },
});

function ethersProvider(url: string, token?: string): JsonRpcProvider {
  const req = new FetchRequest(url);
  if (token) req.setHeader("authorization", `Bearer ${token}`);
  // cacheTimeout -1, as docs/rpc.md advises: with ethers' 250-ms cache, getBlockNumber() right after a send can
  // answer the height the send itself read, below the block that already holds the tx.
  const provider = new JsonRpcProvider(req, Number(CHAIN_ID), {
    staticNetwork: true,
    batchMaxCount: 1,
    cacheTimeout: -1,
  });
  provider.pollingInterval = 100;
  return provider;
}

function viemTransport(url: string, token?: string) {
  return http(url, {
    fetchOptions: token ? { headers: { authorization: `Bearer ${token}` } } : {},
    retryCount: 0,
  });
}

describe("JSON-RPC with bearer tokens (real node)", () => {
  let tokenNode: TokenNode;
  let net: SingleNodeNet;
  let tokens: TestTokens;
  let url: string;

  beforeAll(async () => {
    tokenNode = await TokenNode.start();
    ({ net, tokens, url } = tokenNode);
  });
  afterAll(async () => {
    await tokenNode?.stop();
  });

  it("ethers v6: a submit token reads and sends; a read token reads but a send is refused (403)", async () => {
    const submitter = ethersProvider(url, await tokens.issue("acme", ["read", "submit"]));
    const wallet = new Wallet(net.testnet.accounts[1]!.privateKey, submitter);
    const tx = await wallet.sendTransaction({ to: TO, value: 1000n, gasLimit: 21_000n, gasPrice: 0n });
    const receipt = await pollReceipt(submitter, tx.hash);
    expect(receipt.status).toBe(1);
    expect(await submitter.getBlockNumber()).toBeGreaterThanOrEqual(receipt.blockNumber);

    const reader = ethersProvider(url, await tokens.issue("auditor", ["read"]));
    expect(await reader.getBalance(TO)).toBe(1000n);
    const readOnly = new Wallet(net.testnet.accounts[2]!.privateKey, reader);
    const err = await readOnly
      .sendTransaction({ to: TO, value: 1n, gasLimit: 21_000n, gasPrice: 0n, nonce: 0 })
      .catch(
        (e: unknown) => e as { message: string; info?: { responseStatus?: string; responseBody?: string } },
      );
    expect(err).toBeInstanceOf(Error);
    const info = (err as { info?: { responseStatus?: string; responseBody?: string } }).info;
    expect(info?.responseStatus).toMatch(/^403/);
    expect(JSON.parse(info!.responseBody!).error).toEqual({
      code: -40300,
      message:
        'permission denied: eth_sendRawTransaction needs the "submit" right; principal "auditor" holds read',
    });
    for (const bad of [
      undefined,
      await tokens.expired("acme", ["read"]),
      await tokens.forged("acme", ["read"]),
    ]) {
      const e = await ethersProvider(url, bad)
        .getBlockNumber()
        .catch((x: unknown) => x as { info?: { responseStatus?: string; responseBody?: string } });
      expect((e as { info?: { responseStatus?: string } }).info?.responseStatus).toMatch(/^401/);
      expect(JSON.parse((e as { info: { responseBody: string } }).info.responseBody).error.code).toBe(-40100);
    }
  });

  it("viem: a submit token reads and sends; a read token gets HTTP 403 with the JSON-RPC error for a send", async () => {
    const submit = await tokens.issue("acme", ["read", "submit"]);
    const account = privateKeyToAccount(net.testnet.accounts[3]!.privateKey as `0x${string}`);
    const wallet = createWalletClient({ account, chain, transport: viemTransport(url, submit) });
    const client = createPublicClient({ chain, transport: viemTransport(url, submit) }) as PublicClient;
    const hash = await wallet.sendTransaction({ to: TO, value: 5n, gas: 21_000n, gasPrice: 0n, chain });
    const receipt = await client.waitForTransactionReceipt({ hash, timeout: 30_000, pollingInterval: 50 });
    expect(receipt.status).toBe("success");

    const read = await tokens.issue("auditor", ["read"]);
    const reader = createPublicClient({ chain, transport: viemTransport(url, read) }) as PublicClient;
    expect(await reader.getBlockNumber()).toBeGreaterThanOrEqual(receipt.blockNumber);
    const readWallet = createWalletClient({ account, chain, transport: viemTransport(url, read) });
    const err = (await readWallet
      .sendTransaction({ to: TO, value: 5n, gas: 21_000n, gasPrice: 0n, chain, nonce: 1 })
      .catch((e: unknown) => e)) as ViemError;
    expect(err).toBeInstanceOf(Error);
    // viem reads the JSON-RPC error from the 403 body: code, message and the HTTP status.
    const rpcErr = err.walk((e) => (e as { code?: number }).code === -40300) as ViemError | null;
    expect(rpcErr?.details).toBe(
      'permission denied: eth_sendRawTransaction needs the "submit" right; principal "auditor" holds read',
    );
    expect(rpcErr?.metaMessages).toContain("Status: 403");
    const anonymous = createPublicClient({ chain, transport: viemTransport(url) }) as PublicClient;
    const e401 = (await anonymous.getBlockNumber().catch((e: unknown) => e)) as ViemError;
    const unauthorized = e401.walk((e) => (e as { code?: number }).code === -40100) as ViemError | null;
    expect(unauthorized?.details).toMatch(/^unauthorized: missing credentials/);
    expect(unauthorized?.metaMessages).toContain("Status: 401");
  });
});

describe("JSON-RPC over HTTPS with client certificates (real node)", () => {
  let net: SingleNodeNet;
  let node: ConsortNode;
  let url: string;
  let ca: Buffer;
  let agent: Agent;

  beforeAll(async () => {
    net = await SingleNodeNet.create();
    const tls = path.join(net.dir, "tls");
    const other = path.join(net.dir, "other-ca");
    await initCa(tls, "chain-ca");
    await initCa(other, "other-ca");
    const server = await issueCertificate({ caDir: tls, kind: "node", name: "node0", outDir: tls });
    const client = await issueCertificate({ caDir: tls, kind: "client", name: "acme", outDir: tls });
    await issueCertificate({ caDir: other, kind: "client", name: "mallory", outDir: other });
    const cfg = await net.config();
    cfg.rpc.security = {
      ...cfg.rpc.security,
      tls: {
        certFile: server.certFile,
        keyFile: server.keyFile,
        caFile: path.join(tls, "ca.crt"),
        clientCerts: "required",
        clientRights: { "*": ["read"], acme: ["read", "submit"] },
      },
    };
    node = await ConsortNode.create(cfg, { logger: silentLogger() });
    await node.start();
    url = rpcUrl(node);
    ca = await readFile(path.join(tls, "ca.crt"));
    agent = new Agent({ ca, cert: await readFile(client.certFile), key: await readFile(client.keyFile) });
  });
  afterAll(async () => {
    agent?.destroy();
    await node?.close();
    await net?.remove();
  });

  it("a client with a certificate from the chain's CA reads and submits (ethers with a custom agent)", async () => {
    expect(url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const req = new FetchRequest(url);
    req.getUrlFunc = FetchRequest.createGetUrlFunc({ agent });
    // cacheTimeout -1, as docs/rpc.md advises: with ethers' 250-ms cache, getBlockNumber() right after a send can
    // answer the height the send itself read, below the block that already holds the tx.
    const provider = new JsonRpcProvider(req, Number(CHAIN_ID), {
      staticNetwork: true,
      batchMaxCount: 1,
      cacheTimeout: -1,
    });
    provider.pollingInterval = 100;
    const wallet = new Wallet(net.testnet.accounts[4]!.privateKey, provider);
    const tx = await wallet.sendTransaction({ to: TO, value: 7n, gasLimit: 21_000n, gasPrice: 0n });
    expect((await pollReceipt(provider, tx.hash)).status).toBe(1);
    expect(await provider.getBalance(TO)).toBeGreaterThanOrEqual(7n);
  });

  it('a CN without its own entry gets the rights of "*": it reads, and a send is refused naming the principal', async () => {
    const tls = path.join(net.dir, "tls");
    const bob = await issueCertificate({ caDir: tls, kind: "client", name: "bob", outDir: tls });
    const post = (method: string, params: unknown[]) =>
      new Promise<{ status: number; body: { result?: unknown; error?: { message: string } } }>(
        (resolve, reject) => {
          const req = request(url, {
            method: "POST",
            ca,
            cert: readFileSync(bob.certFile),
            key: readFileSync(bob.keyFile),
            headers: { "content-type": "application/json" },
            agent: false,
          });
          req.on("response", (res) => {
            let text = "";
            res.on("data", (d) => {
              text += d;
            });
            res.on("end", () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
          });
          req.on("error", reject);
          req.end(JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }));
        },
      );
    const read = await post("eth_blockNumber", []);
    expect(read.status).toBe(200);
    expect(read.body.result).toMatch(/^0x[0-9a-f]+$/);
    const send = await post("eth_sendRawTransaction", ["0x00"]);
    expect(send.status).toBe(403);
    expect(send.body.error?.message).toBe(
      'permission denied: eth_sendRawTransaction needs the "submit" right; principal "bob" holds read',
    );
  });

  it("a certificate from another CA is refused during the TLS handshake; the node keeps serving others", async () => {
    const other = path.join(net.dir, "other-ca");
    const outcome = await new Promise<string>((resolve) => {
      const req = request(url, {
        method: "POST",
        ca,
        cert: readFileSync(path.join(other, "mallory.crt")),
        key: readFileSync(path.join(other, "mallory.key")),
        headers: { "content-type": "application/json" },
        agent: false,
      });
      req.on("response", (res) => resolve(`HTTP ${res.statusCode}`));
      req.on("error", (err: NodeJS.ErrnoException) => resolve(`error ${err.code ?? err.message}`));
      req.end(JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_blockNumber", params: [] }));
    });
    expect(outcome).toMatch(
      /^error (ERR_SSL_TLSV13_ALERT_UNKNOWN_CA|ERR_SSL_TLSV1_ALERT_UNKNOWN_CA|ECONNRESET|EPIPE)/,
    );
    const noCert = await new Promise<string>((resolve) => {
      const req = request(url, {
        method: "POST",
        ca,
        headers: { "content-type": "application/json" },
        agent: false,
      });
      req.on("response", (res) => resolve(`HTTP ${res.statusCode}`));
      req.on("error", (err: NodeJS.ErrnoException) => resolve(`error ${err.code ?? err.message}`));
      req.end("{}");
    });
    expect(noCert).toMatch(/^error /);
    const req = new FetchRequest(url);
    req.getUrlFunc = FetchRequest.createGetUrlFunc({ agent });
    const provider = new JsonRpcProvider(req, Number(CHAIN_ID), { staticNetwork: true });
    expect(await provider.getBlockNumber()).toBeGreaterThanOrEqual(1);
  });
});
