import { type ChildProcess, execFile } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { Wallet } from "ethers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawnNode } from "../../src/cli/dev.js";
import { collectStatus } from "../../src/cli/status.js";
import { nodeIdToPeerId } from "../../src/network/index.js";
import { hexToBytes } from "../../src/util/hex.js";
import {
  blockNumber,
  COMMITTEE,
  committeeAbi,
  readLog,
  sendRaw,
  signTx,
  waitReceipts,
  wallets,
} from "./chainUtil.js";
import { freeTestnetPorts, ProcessTestnet, rpc, waitFor } from "./harness.js";

const MAIN = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));

/**
 * Acceptance: a process with a valid key that is not in the node list cannot connect; after a committee proposal
 * (one governor: executed at once) adds it as observer it connects and syncs from genesis; after removal it is
 * disconnected.
 */
describe("e2e: member-only admission", () => {
  let net: ProcessTestnet;
  let newcomer: ChildProcess | null = null;
  let newcomerUrl = "";
  let newcomerId = "";
  let newcomerDir = "";
  let newcomerMetricsUrl = "";

  const peerCount = async (url: string) => Number(await rpc<string>(url, "net_peerCount"));
  const headHash = async (url: string) =>
    (await rpc<{ hash: string }>(url, "eth_getBlockByNumber", ["latest", false])).hash;

  beforeAll(async () => {
    net = await ProcessTestnet.create({ validators: 4 });

    // A fresh key made with `consort keygen`, and a config that points at the validators and the testnet's genesis.
    // Made before the validators start: keygen loads the whole CLI through tsx, and beside four starting nodes on a
    // loaded machine it once ran past its former 60 s bound.
    newcomerDir = path.join(net.testnet.outDir, "newcomer");
    await mkdir(newcomerDir, { recursive: true });
    const keyFile = path.join(newcomerDir, "node.key");
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ["--import", "tsx", MAIN, "keygen", "--out", keyFile],
      { timeout: 120_000 },
    );
    newcomerId = stdout.trim();
    expect(newcomerId).toMatch(/^0x[0-9a-f]{64}$/);
    const {
      rpcPortBase: rpcPort,
      p2pPortBase: p2pPort,
      metricsPortBase: metricsPort,
    } = await freeTestnetPorts(1);
    newcomerMetricsUrl = `http://127.0.0.1:${metricsPort}`;
    const config = {
      name: "newcomer",
      dataDir: path.join(newcomerDir, "data"),
      nodeKeyFile: keyFile,
      genesisFile: net.testnet.genesisFile,
      rpc: { host: "127.0.0.1", port: rpcPort },
      p2p: {
        listen: [`/ip4/127.0.0.1/tcp/${p2pPort}`],
        peers: net.nodes.map(
          (n) => `/ip4/127.0.0.1/tcp/${n.p2pPort}/p2p/${nodeIdToPeerId(hexToBytes(n.nodeId)).toString()}`,
        ),
      },
      log: { level: "info", pretty: true },
      metrics: { host: "127.0.0.1", port: metricsPort },
    };
    const configFile = path.join(newcomerDir, "node.json");
    await writeFile(configFile, JSON.stringify(config, null, 2));
    await net.startAll(120_000);
    newcomerUrl = `http://127.0.0.1:${rpcPort}`;
    newcomer = spawnNode(configFile, path.join(newcomerDir, "node.log"), { FORCE_COLOR: "0" });
    // A newcomer that exits fails at once, and any failure shows its log (not just "fetch failed").
    const child = newcomer;
    const exited = new Promise<never>((_, reject) =>
      child.once("exit", (code, signal) => reject(new Error(`the newcomer exited (${code ?? signal})`))),
    );
    exited.catch(() => {}); // observed below; a later exit (afterAll's kill) is expected
    await Promise.race([
      waitFor("newcomer JSON-RPC", () => blockNumber(newcomerUrl).then(() => true), 120_000),
      exited,
    ]).catch(async (err: unknown) => {
      const log = await readLog(newcomerDir);
      throw new Error(`${String(err)}\nnewcomer log (tail):\n${log.slice(-3000)}`);
    });
  }, 360_000);

  afterAll(async () => {
    if (newcomer && newcomer.exitCode === null && newcomer.signalCode === null) {
      const exited = new Promise((r) => newcomer!.once("exit", r));
      newcomer.kill("SIGKILL");
      await exited;
    }
    await net?.close();
  }, 60_000);

  it("refuses a non-member, admits it once added as observer, drops it once removed", async () => {
    const urls = net.nodes.map((n) => n.rpcUrl);
    const ws = wallets(net.testnet.accounts);
    const admin = new Wallet(net.testnet.governors[0]!.privateKey!);
    const user = ws[2]!;
    let userNonce = 0;
    const transfer = async (via: string) =>
      sendRaw(via, await signTx(user, { nonce: userNonce++, to: ws[3]!.address, value: 1n }));

    // 1) Not a member: the chain advances, the newcomer stays alone at genesis, the validators log the refusal.
    const peerIdStr = nodeIdToPeerId(hexToBytes(newcomerId)).toString();
    await waitFor(
      "a validator to log the refusal of the newcomer",
      async () => {
        for (const n of net.nodes) {
          const log = await readLog(n.dir);
          if (log.split("\n").some((l) => l.includes("peer refused") && l.includes(peerIdStr))) return true;
        }
        return false;
      },
      60_000,
    );
    // Its own log says what it waits for.
    const started = (await readLog(newcomerDir)).split("\n").find((l) => l.includes("node started"));
    expect(started).toContain("not on the node list");
    expect(started).toContain(`consort gov propose add-observer ${newcomerId}`);
    const roles = async () =>
      (
        await collectStatus([
          { name: "newcomer", rpcUrl: newcomerUrl, metricsUrl: null },
          { name: "node0", rpcUrl: urls[0]!, metricsUrl: null },
        ])
      ).map((r) => r.role);
    expect(await roles()).toEqual(["none", "sealer"]);
    const ready = (await (await fetch(`${newcomerMetricsUrl}/ready`)).json()) as { reasons: string[] };
    expect(ready.reasons[0]).toMatch(/^not on the node list at block 0: members refuse this node/);
    const early = [await transfer(urls[0]!), await transfer(urls[1]!)];
    await waitReceipts(urls[0]!, early, 120_000);
    expect(await blockNumber(urls[0]!)).toBeGreaterThan(0);
    // Give the newcomer several redial rounds (backoff ≤ 10 s) to prove it stays out.
    const until = Date.now() + 12_000;
    while (Date.now() < until) {
      expect(await peerCount(newcomerUrl)).toBe(0);
      expect(await blockNumber(newcomerUrl)).toBe(0);
      await new Promise((r) => setTimeout(r, 1000));
    }
    for (const url of urls) {
      const peers = await rpc<{ peers: { p2pNodeID: string }[] }>(url, "getPeers", []);
      expect(peers.peers.map((p) => p.p2pNodeID)).not.toContain(newcomerId.slice(2));
    }

    // 2) The governor proposes it as observer (executed at once): it connects and syncs from genesis.
    const add = await sendRaw(
      urls[0]!,
      await signTx(admin, {
        nonce: 0,
        to: COMMITTEE,
        data: committeeAbi.encodeFunctionData("createAddObserverProposal", [newcomerId, 0n]),
        gasLimit: 1_000_000n,
      }),
    );
    const [addReceipt] = await waitReceipts(urls[0]!, [add], 120_000);
    expect(addReceipt!.status).toBe("0x1");
    const observers = await rpc<string[]>(urls[0]!, "getObserverList", ["group0", ""]);
    expect(observers).toContain(newcomerId.slice(2));
    const afterAdd = [await transfer(urls[2]!)];
    await waitReceipts(urls[0]!, afterAdd, 120_000);
    await waitFor("the newcomer to connect", async () => (await peerCount(newcomerUrl)) > 0, 120_000);
    await waitFor(
      "the newcomer to sync to the validators' head",
      async () => {
        const h = await blockNumber(urls[0]!);
        return (
          (await blockNumber(newcomerUrl)) >= h &&
          (await headHash(newcomerUrl)) === (await headHash(urls[0]!))
        );
      },
      120_000,
    );
    // Against node 0, whose head the newcomer matched: another validator may not have committed that block yet.
    for (let h = 0; h <= (await blockNumber(newcomerUrl)); h++) {
      const q = ["eth_getBlockByNumber", [`0x${h.toString(16)}`, false]] as const;
      const [a, b] = await Promise.all([
        rpc<{ hash: string; stateRoot: string }>(urls[0]!, q[0], [...q[1]]),
        rpc<{ hash: string; stateRoot: string }>(newcomerUrl, q[0], [...q[1]]),
      ]);
      expect(b, `height ${h}`).toEqual(expect.objectContaining({ hash: a.hash, stateRoot: a.stateRoot }));
    }
    expect(await roles()).toEqual(["observer", "sealer"]);
    // As an observer it now relays client transactions to the sealers.
    const viaObserver = await transfer(newcomerUrl);
    await waitReceipts(urls[0]!, [viaObserver], 120_000);

    // 3) The governor removes it: it is disconnected and stops following the chain.
    const remove = await sendRaw(
      urls[0]!,
      await signTx(admin, {
        nonce: 1,
        to: COMMITTEE,
        data: committeeAbi.encodeFunctionData("createRmNodeProposal", [newcomerId, 0n]),
        gasLimit: 1_000_000n,
      }),
    );
    const [removeReceipt] = await waitReceipts(urls[0]!, [remove], 120_000);
    expect(removeReceipt!.status).toBe("0x1");
    const removedAt = Number(removeReceipt!.blockNumber);
    await waitFor(
      "the newcomer to be disconnected",
      async () => (await peerCount(newcomerUrl)) === 0,
      60_000,
    );
    // The removal block itself may land on the newcomer after its last peer hung up: as an observer it follows the
    // votes, and it commits that block in the same moments as the validators that hang up on committing it (under
    // load, after the last hang-up). No block after the removal may reach it.
    const later = [await transfer(urls[1]!), await transfer(urls[3]!)];
    await waitReceipts(urls[0]!, later, 120_000);
    const chainHeight = await blockNumber(urls[0]!);
    expect(chainHeight).toBeGreaterThan(removedAt);
    const until2 = Date.now() + 8_000;
    while (Date.now() < until2) {
      expect(await peerCount(newcomerUrl)).toBe(0);
      expect(await blockNumber(newcomerUrl)).toBeLessThanOrEqual(removedAt);
      await new Promise((r) => setTimeout(r, 1000));
    }
    // One log line names both the removal and this peer (the peer id alone also appears in earlier lines).
    const logs = await Promise.all(net.nodes.map((n) => readLog(n.dir)));
    const removals = logs.flatMap((l) =>
      l
        .split("\n")
        .filter((line) => line.includes("peer removed from the allowed list") && line.includes(peerIdStr)),
    );
    expect(removals.length, "a member logged the newcomer's removal").toBeGreaterThan(0);
  }, 600_000);

  it("a second process started with a validator's key (a copied node folder) is reported", async () => {
    // node3's folder copied as an operator might to make a new node: same key, its own data and ports. The chain
    // sees one validator (same node ID, same peer ID) and accepts both; the pair's votes show in certificates.
    const twinDir = path.join(net.testnet.outDir, "node3-copy");
    await mkdir(twinDir, { recursive: true });
    const ports = await freeTestnetPorts(1);
    const configFile = path.join(twinDir, "node.json");
    await writeFile(
      configFile,
      JSON.stringify({
        name: "node3-copy",
        dataDir: path.join(twinDir, "data"),
        nodeKeyFile: path.join(net.nodes[3]!.dir, "node.key"),
        genesisFile: net.testnet.genesisFile,
        rpc: { host: "127.0.0.1", port: ports.rpcPortBase },
        p2p: {
          listen: [`/ip4/127.0.0.1/tcp/${ports.p2pPortBase}`],
          peers: net.nodes
            .slice(0, 3)
            .map(
              (n) => `/ip4/127.0.0.1/tcp/${n.p2pPort}/p2p/${nodeIdToPeerId(hexToBytes(n.nodeId)).toString()}`,
            ),
        },
        metrics: { host: "127.0.0.1", port: ports.metricsPortBase },
        log: { level: "info", pretty: false },
      }),
    );
    const twin = spawnNode(configFile, path.join(twinDir, "node.log"), { FORCE_COLOR: "0" });
    const urls = net.nodes.map((n) => n.rpcUrl);
    const ws = wallets(net.testnet.accounts);
    let nonce = 0;
    const reported = async () => {
      const logs = await Promise.all([readLog(twinDir), ...net.nodes.map((n) => readLog(n.dir))]);
      return logs.some((l) => l.includes("another process signs with this node's key"));
    };
    const conflicts = async (metricsUrl: string) => {
      const text = await (await fetch(`${metricsUrl}/metrics`)).text();
      return Number(/^consort_consensus_key_conflicts_total (\d+)/m.exec(text)?.[1]);
    };
    try {
      // Blocks keep coming; those proposed 20 s after the copy started carry votes one of the two never made.
      await waitFor(
        "node3 or its copy to report the other's votes",
        async () => {
          const hash = await sendRaw(
            urls[nonce % 3]!,
            await signTx(ws[5]!, { nonce: nonce++, to: ws[6]!.address, value: 1n }),
          );
          await waitReceipts(urls[0]!, [hash], 60_000);
          return reported();
        },
        180_000,
      );
      // Counted where it was logged; node0, whose key no one copied, counts nothing.
      const counts = await Promise.all(
        [
          `http://127.0.0.1:${ports.metricsPortBase}`,
          net.nodes[3]!.metricsUrl!,
          net.nodes[0]!.metricsUrl!,
        ].map(conflicts),
      );
      expect(counts[0]! + counts[1]!).toBeGreaterThan(0);
      expect(counts[2]).toBe(0);
      // The members saw node3's key connect from two processes at once, named at connection time, before any vote.
      for (const n of net.nodes.slice(0, 3)) {
        expect(await readLog(n.dir), `${n.name}'s log`).toContain(
          "one member's key connects from two processes",
        );
      }
      const peerConflicts = /^consort_p2p_peer_key_conflicts_total (\d+)/m.exec(
        await (await fetch(`${net.nodes[0]!.metricsUrl!}/metrics`)).text(),
      );
      expect(Number(peerConflicts?.[1])).toBeGreaterThan(0);
    } finally {
      const exited = new Promise((r) => twin.once("exit", r));
      twin.kill("SIGTERM");
      await exited;
    }
    // The chain goes on without the copy.
    const after = await sendRaw(
      urls[0]!,
      await signTx(ws[5]!, { nonce: nonce++, to: ws[6]!.address, value: 1n }),
    );
    expect((await waitReceipts(urls[0]!, [after], 120_000))[0]!.status).toBe("0x1");
  }, 400_000);
});
