import http from "node:http";
import { JsonRpcProvider, Wallet } from "ethers";
import { describe, expect, it } from "vitest";
import WebSocket from "ws";
import { keepBlockPoller } from "../chainUtil.js";
import { rpc } from "../harness.js";
import { ACCOUNT, type ClientNet, within } from "./net.js";

const REQUEST_TIMEOUT_MS = 30_000;

interface HttpAnswer {
  status: number;
  text: string;
}

/**
 * POST with node:http. Unlike fetch, it keeps the answer when the server replies (and closes) before the whole body
 * was written, which is what a server does with an oversized body.
 */
function post(url: string, body: string | Buffer, headers: Record<string, string> = {}): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    let answered = false;
    const req = http.request(
      url,
      {
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
        timeout: REQUEST_TIMEOUT_MS,
      },
      (res) => {
        answered = true;
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (d: string) => {
          text += d;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error("request timed out")));
    req.on("error", (err) => {
      // EPIPE / ECONNRESET after the answer started arriving is the server closing an oversized upload: fine.
      if (!answered) reject(err);
    });
    req.end(body);
  });
}

interface ErrorObject {
  jsonrpc: string;
  id: unknown;
  error: { code: number; message: string; data?: unknown };
}

/** A well-formed JSON-RPC 2.0 error response (no result, integer code, message, no stack trace). */
function expectWellFormedError(value: unknown, code?: number | number[]): ErrorObject {
  expect(value).toBeTypeOf("object");
  const r = value as Record<string, unknown>;
  expect(r.jsonrpc).toBe("2.0");
  expect("id" in r).toBe(true);
  expect("result" in r).toBe(false);
  const err = r.error as ErrorObject["error"];
  expect(Number.isInteger(err?.code)).toBe(true);
  expect(typeof err.message).toBe("string");
  expect(err.message.length).toBeGreaterThan(0);
  expect(err.message).not.toMatch(/\n\s+at /);
  if (code !== undefined) expect(Array.isArray(code) ? code : [code]).toContain(err.code);
  return r as unknown as ErrorObject;
}

/** HTTP 200 with a JSON body that is a well-formed error (or, for a batch, only well-formed errors). */
function expectErrorAnswer(a: HttpAnswer, code?: number | number[]): void {
  expect(a.status, a.text.slice(0, 300)).toBe(200);
  const body = JSON.parse(a.text) as unknown;
  if (Array.isArray(body)) {
    expect(body.length).toBeGreaterThan(0);
    for (const item of body) expectWellFormedError(item, code);
  } else {
    expectWellFormedError(body, code);
  }
}

const call = (method: unknown, params?: unknown, id: unknown = 1): string =>
  JSON.stringify({ jsonrpc: "2.0", id, method, ...(params === undefined ? {} : { params }) });

const PARSE = -32700;
const INVALID_REQUEST = -32600;
const NOT_FOUND = -32601;
const INVALID_PARAMS = -32602;
const SERVER = -32000;

/**
 * Malformed and hostile requests against the real node: every answer is a well-formed JSON-RPC error (HTTP 200), and
 * the node keeps serving (eth_blockNumber answers and a transaction still commits afterwards).
 */
export function hostileSuite(getNet: () => ClientNet): void {
  describe("hostile requests", () => {
    const addr = "0x000000000000000000000000000000000000dead";
    const hugeHex = `0x${"f".repeat(10_000)}`;

    const cases: [string, string, number | number[]][] = [
      // malformed JSON
      ["truncated JSON", '{"jsonrpc":"2.0","id":1,"method":', PARSE],
      ["empty body", "", PARSE],
      ["not JSON", "hello", PARSE],
      ["trailing garbage", `${call("eth_blockNumber", [])}}`, PARSE],
      ["NaN literal", '{"jsonrpc":"2.0","id":NaN,"method":"eth_blockNumber"}', PARSE],
      // invalid requests and wrong types in the envelope
      ["null", "null", INVALID_REQUEST],
      ["a number", "42", INVALID_REQUEST],
      ["a string", '"eth_blockNumber"', INVALID_REQUEST],
      ["empty batch", "[]", INVALID_REQUEST],
      ["batch of junk", "[1, true, null, []]", INVALID_REQUEST],
      ["jsonrpc 1.0", JSON.stringify({ jsonrpc: "1.0", id: 1, method: "eth_blockNumber" }), INVALID_REQUEST],
      ["method is a number", call(42, []), INVALID_REQUEST],
      ["method missing", JSON.stringify({ jsonrpc: "2.0", id: 1 }), INVALID_REQUEST],
      ["id is an object", call("eth_blockNumber", [], { a: 1 }), INVALID_REQUEST],
      [
        "id overflows to Infinity",
        '{"jsonrpc":"2.0","id":1e999,"method":"eth_blockNumber"}',
        INVALID_REQUEST,
      ],
      // unknown methods (exact geth wording matters to ethers)
      ["unknown method", call("eth_doesNotExist", []), NOT_FOUND],
      ["prototype key as method", call("__proto__", []), NOT_FOUND],
      ["constructor as method", call("constructor", []), NOT_FOUND],
      ["100 kB method name", call("x".repeat(100_000), []), NOT_FOUND],
      ["eth_subscribe over HTTP", call("eth_subscribe", ["newHeads"]), NOT_FOUND],
      // wrong param types
      ["params is an object", call("eth_getBalance", { address: addr }), INVALID_PARAMS],
      ["params is a string", call("eth_getBalance", "x"), INVALID_PARAMS],
      ["address is a number", call("eth_getBalance", [123, "latest"]), INVALID_PARAMS],
      ["address too short", call("eth_getBalance", ["0x12", "latest"]), INVALID_PARAMS],
      [
        "address with NUL and lone surrogate",
        call("eth_getBalance", ["0x\u0000\ud800", "latest"]),
        INVALID_PARAMS,
      ],
      ["block number as JSON number", call("eth_getBlockByNumber", [12, false]), INVALID_PARAMS],
      ["block number negative", call("eth_getBlockByNumber", [-1, false]), INVALID_PARAMS],
      ["full-tx flag as string", call("eth_getBlockByNumber", ["latest", "yes"]), INVALID_PARAMS],
      ["too many params", call("eth_blockNumber", [1, 2, 3]), INVALID_PARAMS],
      ["missing required param", call("eth_getBalance", []), INVALID_PARAMS],
      ["call object is an array", call("eth_call", [[addr], "latest"]), INVALID_PARAMS],
      ["odd-length hex data", call("eth_call", [{ to: addr, data: "0xabc" }, "latest"]), INVALID_PARAMS],
      ["raw tx not hex", call("eth_sendRawTransaction", ["zz"]), INVALID_PARAMS],
      ["raw tx garbage RLP", call("eth_sendRawTransaction", ["0xdeadbeef"]), [INVALID_PARAMS, SERVER]],
      ["tx hash wrong length", call("eth_getTransactionByHash", ["0x1234"]), INVALID_PARAMS],
      ["log filter address a number", call("eth_getLogs", [{ address: 5 }]), INVALID_PARAMS],
      [
        "log filter 5 topic positions",
        call("eth_getLogs", [{ topics: [null, null, null, null, null] }]),
        INVALID_PARAMS,
      ],
      ["log filter nested topics", call("eth_getLogs", [{ topics: [[["0x01"]]] }]), INVALID_PARAMS],
      [
        "FISCO getBlockByNumber bad number",
        call("getBlockByNumber", ["group0", "", "abc", true]),
        INVALID_PARAMS,
      ],
      // huge numbers
      ["block number with 10,000 hex digits", call("eth_getBlockByNumber", [hugeHex, false]), INVALID_PARAMS],
      [
        "block number as JSON 1e400",
        '{"jsonrpc":"2.0","id":1,"method":"eth_getBlockByNumber","params":[1e400,false]}',
        INVALID_PARAMS,
      ],
      ["block number 2^64", call("eth_getBlockByNumber", ["0x10000000000000000", false]), INVALID_PARAMS],
      [
        "value above 2^256",
        call("eth_call", [{ to: addr, value: `0x1${"0".repeat(64)}` }, "latest"]),
        INVALID_PARAMS,
      ],
      ["storage slot above 2^256", call("eth_getStorageAt", [addr, hugeHex, "latest"]), INVALID_PARAMS],
      [
        "feeHistory count 2^64-1",
        call("eth_feeHistory", ["0xffffffffffffffff", "latest", []]),
        INVALID_PARAMS,
      ],
      [
        "getLogs toBlock 2^64-1",
        call("eth_getLogs", [{ fromBlock: "0x0", toBlock: "0xffffffffffffffff" }]),
        INVALID_PARAMS,
      ],
      ["future block state", call("eth_getTransactionCount", [addr, "0xffffffff"]), [INVALID_PARAMS, SERVER]],
      ["filter id of 70 chars", call("eth_getFilterChanges", [`0x${"1".repeat(68)}`]), INVALID_PARAMS],
      // unknown block tags
      ["tag 'newest'", call("eth_getBlockByNumber", ["newest", false]), INVALID_PARAMS],
      ["tag 'Latest' (case)", call("eth_getBalance", [addr, "Latest"]), INVALID_PARAMS],
      ["tag empty quantity '0x'", call("eth_getBalance", [addr, "0x"]), INVALID_PARAMS],
      ["tag as a boolean", call("eth_getCode", [addr, true]), INVALID_PARAMS],
      ["EIP-1898 bad block hash", call("eth_getBalance", [addr, { blockHash: "0x12" }]), INVALID_PARAMS],
      ["unknown tag in a log filter", call("eth_getLogs", [{ fromBlock: "genesis" }]), INVALID_PARAMS],
      ["unknown tag in eth_call", call("eth_call", [{ to: addr }, "pending2"]), INVALID_PARAMS],
      // deep JSON: a structure 500,000 levels deep (within the body limit)
      ["deep array", `${"[".repeat(500_000)}${"]".repeat(500_000)}`, INVALID_REQUEST],
      ["deep object", `${'{"a":'.repeat(300_000)}1${"}".repeat(300_000)}`, INVALID_REQUEST],
      [
        "deep params",
        `{"jsonrpc":"2.0","id":1,"method":"eth_call","params":[${"[".repeat(300_000)}${"]".repeat(300_000)},"latest"]}`,
        INVALID_PARAMS,
      ],
    ];

    it("answers every malformed or hostile request with a well-formed JSON-RPC error", async () => {
      const { url } = getNet();
      const failures: string[] = [];
      for (const [name, body, code] of cases) {
        const answer = await post(url, body);
        try {
          expectErrorAnswer(answer, code);
        } catch (err) {
          failures.push(
            `${name}: ${answer.status} ${answer.text.slice(0, 200)} (${String(err).slice(0, 200)})`,
          );
        }
      }
      expect(failures).toEqual([]);
    });

    it("keeps the caller's id (type preserved) in errors", async () => {
      const { url } = getNet();
      for (const id of ["abc", 7, null, 1.5]) {
        const r = JSON.parse((await post(url, call("eth_doesNotExist", [], id))).text) as ErrorObject;
        expect(r.id).toStrictEqual(id);
        expectWellFormedError(r, NOT_FOUND);
      }
    });

    it("refuses an oversized body (declared and chunked) with a JSON-RPC error", async () => {
      const { url } = getNet();
      const big = call("web3_sha3", [`0x${"ab".repeat(3 * 1024 * 1024)}`]);
      // Repeated: a server that answers and hangs up while the client is still writing loses the answer at random
      // (the client sees EPIPE / ECONNRESET instead of the error).
      for (let i = 0; i < 4; i++) {
        expectErrorAnswer(await post(url, big), INVALID_REQUEST);
        expectErrorAnswer(await post(url, big, { "transfer-encoding": "chunked" }), INVALID_REQUEST);
      }
    });

    it("refuses a 10,000-call batch and answers a mixed batch call by call", async () => {
      const { url } = getNet();
      const batch = Array.from({ length: 10_000 }, (_, i) => ({
        jsonrpc: "2.0",
        id: i,
        method: "eth_blockNumber",
      }));
      expectErrorAnswer(await post(url, JSON.stringify(batch)), INVALID_REQUEST);

      const mixed = JSON.parse(
        (
          await post(
            url,
            `[${call("eth_blockNumber", [], 1)},${call("eth_nope", [], 2)},{"bad":true},${call("eth_getBalance", [1], 4)}]`,
          )
        ).text,
      ) as Record<string, unknown>[];
      expect(mixed).toHaveLength(4);
      expect(mixed[0]!.result).toMatch(/^0x[0-9a-f]+$/);
      expectWellFormedError(mixed[1], NOT_FOUND);
      expectWellFormedError(mixed[2], INVALID_REQUEST);
      expectWellFormedError(mixed[3], INVALID_PARAMS);
    });

    it("rejects hostile signed transactions with geth-worded errors", async () => {
      const net = getNet();
      const wallet = new Wallet(net.accounts[ACCOUNT.hostile]!.privateKey);
      const nonce = Number(
        await rpc<string>(net.url, "eth_getTransactionCount", [wallet.address, "pending"]),
      );
      const base = {
        type: 0,
        chainId: 20200n,
        to: addr,
        value: 1n,
        gasPrice: 0n,
        gasLimit: 21_000n,
        nonce,
      };
      const bad: [string, object, RegExp][] = [
        ["gas limit 2^64-1", { gasLimit: 2n ** 64n - 1n }, /exceeds block gas limit/],
        ["value 2^256-1", { value: 2n ** 256n - 1n }, /insufficient funds/],
        ["nonce 2^40", { nonce: 2 ** 40 }, /nonce too high/],
        ["wrong chain id", { chainId: 1n }, /chain id|invalid sender/i],
        ["gas below intrinsic", { gasLimit: 20_000n }, /intrinsic gas too low/],
      ];
      for (const [name, override, message] of bad) {
        const raw = await wallet.signTransaction({ ...base, ...override });
        const r = JSON.parse(
          (await post(net.url, call("eth_sendRawTransaction", [raw]))).text,
        ) as ErrorObject;
        expectWellFormedError(r);
        expect(r.error.message, name).toMatch(message);
      }
    });

    it("WebSocket: malformed and hostile messages get errors; an oversized frame closes only that socket", async () => {
      const { wsUrl } = getNet();
      const ws = new WebSocket(wsUrl);
      const answers: unknown[] = [];
      const closed = new Promise<number>((resolve) => ws.on("close", (code) => resolve(code)));
      ws.on("message", (d: Buffer) => answers.push(JSON.parse(d.toString("utf8"))));
      await within("WebSocket open", 10_000, new Promise((r, j) => ws.once("open", r).once("error", j)));
      ws.send("{not json");
      ws.send(`${"[".repeat(200_000)}${"]".repeat(200_000)}`);
      ws.send(
        JSON.stringify(Array.from({ length: 10_000 }, (_, i) => ({ jsonrpc: "2.0", id: i, method: "x" }))),
      );
      ws.send(call("eth_subscribe", ["bogus"], 10));
      ws.send(call("eth_subscribe", ["logs", { address: 5 }], 11));
      ws.send(call("eth_subscribe", ["logs", { topics: [null, null, null, null, null] }], 12));
      ws.send(call("eth_blockNumber", [], 13));
      const deadline = Date.now() + REQUEST_TIMEOUT_MS;
      while (answers.length < 7 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(answers).toHaveLength(7);
      expectWellFormedError(answers[0], PARSE);
      expect(Array.isArray(answers[1])).toBe(true);
      expectWellFormedError((answers[1] as unknown[])[0], INVALID_REQUEST);
      expectWellFormedError(answers[2], INVALID_REQUEST);
      expectWellFormedError(answers[3], INVALID_PARAMS);
      expectWellFormedError(answers[4], INVALID_PARAMS);
      expectWellFormedError(answers[5], INVALID_PARAMS);
      expect((answers[6] as { id: number; result: string }).result).toMatch(/^0x[0-9a-f]+$/);
      // A frame above the size limit: the server closes that connection cleanly with 1009 "message too big".
      ws.send(Buffer.alloc(6 * 1024 * 1024, 0x20));
      expect(await within("oversized frame closes the socket", 30_000, closed)).toBe(1009);
      // A new connection works.
      const again = new WebSocket(wsUrl);
      try {
        await within(
          "WebSocket reopen",
          10_000,
          new Promise((r, j) => again.once("open", r).once("error", j)),
        );
        const answer = new Promise<string>((r) =>
          again.once("message", (d: Buffer) => r(d.toString("utf8"))),
        );
        again.send(call("eth_chainId", [], 1));
        expect(JSON.parse(await within("eth_chainId over WebSocket", 10_000, answer)).result).toBe("0x4ee8");
      } finally {
        again.terminate();
      }
    });

    it("bounds an eth_call / eth_estimateGas of an endless loop (huge gas asked) with an error", async () => {
      const { url } = getNet();
      // Init code `JUMPDEST PUSH1 0 JUMP`: loops until out of gas. The node caps call gas (50M, like geth).
      const loop = { data: "0x5b600056", gas: "0xffffffffffffffff" };
      expectErrorAnswer(await post(url, call("eth_call", [loop, "latest"])), [3, SERVER]);
      expectErrorAnswer(await post(url, call("eth_estimateGas", [{ data: loop.data }])), [3, SERVER]);
    });

    it("keeps serving afterwards: eth_blockNumber answers and a transaction commits", async () => {
      const net = getNet();
      expect(await rpc<string>(net.url, "eth_blockNumber")).toMatch(/^0x[0-9a-f]+$/);
      const provider = new JsonRpcProvider(net.url, undefined, { cacheTimeout: -1, pollingInterval: 250 });
      try {
        await keepBlockPoller(provider);
        const wallet = new Wallet(net.accounts[ACCOUNT.hostile]!.privateKey, provider);
        const tx = await wallet.sendTransaction({ to: addr, value: 1n });
        const receipt = await tx.wait(1, 60_000);
        expect(receipt?.status).toBe(1);
      } finally {
        provider.destroy();
      }
      const node0 = net.testnet?.processes[0];
      if (node0) expect(node0.exitCode).toBeNull();
    });
  });
}
