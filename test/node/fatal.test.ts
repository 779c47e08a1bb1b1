import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConsortNode, FATAL_EXIT_CODE } from "../../src/node/index.js";
import type { Logger } from "../../src/util/logger.js";
import { keyOf, rpcUrl, SingleNodeNet, signLegacyFast, waitFor } from "./helpers.js";

/**
 * One policy for fatal errors (issue 11): a module reports an error it cannot continue after to the composition
 * root, which logs one fatal line, closes the node cleanly and hands the exit code to its owner (the CLI exits).
 * Nothing kills the process behind the owner's back (the consensus driver used to SIGTERM its own process: this
 * test process would not survive that).
 */

interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

function capturingLogger(lines: LogLine[]): Logger {
  const stream = { write: (s: string) => void lines.push(JSON.parse(s) as LogLine) };
  return pino({ level: "info" }, stream) as unknown as Logger;
}

const FATAL = 60; // pino's level number for fatal

async function startNode(net: SingleNodeNet, lines: LogLine[], exitCodes: number[]): Promise<ConsortNode> {
  const node = await ConsortNode.create(await net.config(), {
    logger: capturingLogger(lines),
    onFatalStop: (code) => exitCodes.push(code),
  });
  await node.start();
  return node;
}

async function rpcAnswers(url: string): Promise<boolean> {
  try {
    const res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_blockNumber", params: [] }),
      signal: AbortSignal.timeout(2000),
    });
    return res.ok;
  } catch {
    return false;
  }
}

describe("fatal errors", () => {
  let net: SingleNodeNet;
  const nodes: ConsortNode[] = [];

  beforeAll(async () => {
    net = await SingleNodeNet.create();
  });
  afterAll(async () => {
    for (const n of nodes) await n.close();
    await net.remove();
  });

  it("a fatal error reported to the node stops it cleanly, once, with one fatal line and the exit code", async () => {
    const lines: LogLine[] = [];
    const exitCodes: number[] = [];
    const node = await startNode(net, lines, exitCodes);
    nodes.push(node);
    const url = rpcUrl(node);
    expect(await rpcAnswers(url)).toBe(true);

    const stopped = node.fatal("test", new Error("injected failure"));
    void node.fatal("test", new Error("a second report")); // ignored: the node is already stopping
    await stopped;

    expect(exitCodes).toEqual([FATAL_EXIT_CODE]);
    expect(node.isClosed).toBe(true);
    expect(await rpcAnswers(url)).toBe(false);
    const fatal = lines.filter((l) => l.level === FATAL);
    expect(fatal).toEqual([
      expect.objectContaining({
        msg: "fatal error in test: stopping the node",
        source: "test",
        err: "injected failure",
        exitCode: FATAL_EXIT_CODE,
      }),
    ]);
    expect(lines.at(-1)?.msg).toBe("node stopped");
    // Closed cleanly: the data directory opens again (the LevelDB lock was released).
    const again = await startNode(net, [], []);
    nodes.push(again);
    await again.close();
  });

  it("a consensus failure (a block it cannot store) reaches the composition root, which stops the node", async () => {
    const lines: LogLine[] = [];
    const exitCodes: number[] = [];
    const node = await startNode(net, lines, exitCodes);
    nodes.push(node);
    // The disk under the ledger fails: the next block's commit throws (injected at the chain; a lone validator
    // writes no hard state, its votes ride with the commit). The driver halts before anything else is decided.
    node.chain.commit = () =>
      Promise.reject(Object.assign(new Error("EIO: i/o error, write"), { code: "EIO" }));
    const sender = net.accounts[1]!;
    await fetch(rpcUrl(node), {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        jsonrpc: "2.0",
        id: 1,
        method: "eth_sendRawTransaction",
        params: [
          `0x${Buffer.from(
            signLegacyFast(keyOf(sender), { nonce: 0n, to: new Uint8Array(20).fill(1), value: 1n }),
          ).toString("hex")}`,
        ],
      }),
    });
    await waitFor("the node to stop", () => exitCodes.length > 0, 30_000);
    expect(exitCodes).toEqual([FATAL_EXIT_CODE]);
    expect(node.isClosed).toBe(true);
    const fatal = lines.filter((l) => l.level === FATAL).map((l) => l.msg);
    expect(fatal).toEqual(["CONSENSUS FAILURE: halting", "fatal error in consensus: stopping the node"]);
  });
});
