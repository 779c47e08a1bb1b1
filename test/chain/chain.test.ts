import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Chain } from "../../src/chain/index.js";
import { decodeTransaction, encodeBlock, encodeNativeTx } from "../../src/codec/index.js";
import type { GenesisConfig } from "../../src/config/index.js";
import { commitDigest } from "../../src/consensus/index.js";
import { keccak256, NodeKey, privateKeyToAddress } from "../../src/crypto/index.js";
import { Executor, readAccount } from "../../src/execution/index.js";
import { LevelLedger } from "../../src/ledger/index.js";
import type { CommitCertificate, Hash } from "../../src/types/index.js";
import { silentLogger } from "../../src/util/logger.js";

const ADMIN_KEY = keccak256(new TextEncoder().encode("chain test admin"));

function makeGenesis(sealer: NodeKey, timestampMs = 1_700_000_000_000): GenesisConfig {
  return {
    chainId: 20200n,
    groupId: "group0",
    timestampMs,
    sealers: [{ nodeId: sealer.nodeId, weight: 1 }],
    observers: [],
    admins: [privateKeyToAddress(ADMIN_KEY)],
    alloc: [{ address: privateKeyToAddress(ADMIN_KEY), balance: 10n ** 20n }],
    systemConfig: {
      tx_count_limit: "1000",
      tx_gas_limit: "300000000",
      consensus_leader_period: "1",
      min_gas_price: "0",
    },
  };
}

function certify(key: NodeKey, height: number, view: number, blockHash: Hash): CommitCertificate {
  return {
    height,
    view,
    blockHash,
    signatures: [
      { nodeId: key.nodeId, signature: key.sign(commitDigest(keccak256, height, view, blockHash)) },
    ],
  };
}

function transfer(nonce: Uint8Array, blockLimit: number) {
  return decodeTransaction(
    encodeNativeTx(
      {
        chainId: 20200n,
        groupId: "group0",
        nonce,
        blockLimit,
        to: new Uint8Array(20).fill(7),
        value: 5n,
        input: new Uint8Array(),
        gasLimit: 21000n,
        gasPrice: 0n,
      },
      ADMIN_KEY,
    ),
  );
}

describe("Chain", () => {
  let dir: string;
  const open: LevelLedger[] = [];
  const sealer = NodeKey.generate();

  async function openChain(sub: string, genesis = makeGenesis(sealer)) {
    const ledger = await LevelLedger.open(
      { dataDir: path.join(dir, sub), chainId: 20200n, groupId: "group0" },
      { logger: silentLogger() },
    );
    open.push(ledger);
    const chain = new Chain(genesis, {
      ledger,
      executor: new Executor({}, { logger: silentLogger() }),
      logger: silentLogger(),
    });
    await chain.init();
    return { chain, ledger };
  }

  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "consort-chain-"));
  });
  afterEach(async () => {
    for (const l of open.splice(0)) await l.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("builds, verifies on another node, and commits identical blocks", async () => {
    const a = await openChain("a");
    const b = await openChain("b");
    expect(a.chain.head().hash).toEqual(b.chain.head().hash);
    const built = await a.chain.buildBlock(
      [transfer(new Uint8Array([1]), 100), transfer(new Uint8Array([2]), 100)],
      {
        proposer: sealer.nodeId,
        view: 0,
        nowMs: Date.now(),
      },
    );
    expect(built.block.transactions).toHaveLength(2);
    const payload = encodeBlock(built.block);
    await b.chain.verifyBlock(payload, built.hash, { nowMs: Date.now() });
    const cert = certify(sealer, 1, 0, built.hash);
    expect(a.chain.checkCertificate(cert, built.hash)).toEqual({ ok: true });
    await a.chain.commit(built.hash, cert);
    await b.chain.commit(built.hash, cert);
    expect(await b.chain.commit(built.hash, cert)).toBeNull(); // a second commit of a height is a no-op
    expect(a.chain.head()).toEqual(b.chain.head());
    expect((await readAccount(b.ledger, new Uint8Array(20).fill(7))).balance).toBe(10n);
  });

  it("refuses a proposal whose state root differs from local execution", async () => {
    const a = await openChain("a");
    const built = await a.chain.buildBlock([transfer(new Uint8Array([3]), 100)], {
      proposer: sealer.nodeId,
      view: 0,
      nowMs: Date.now(),
    });
    const forged = {
      ...built.block,
      header: { ...built.block.header, stateRoot: new Uint8Array(32).fill(9) },
    };
    const { hashHeader } = await import("../../src/codec/index.js");
    const b = await openChain("b");
    await expect(
      b.chain.verifyBlock(encodeBlock(forged), hashHeader(forged.header), { nowMs: Date.now() }),
    ).rejects.toMatchObject({
      code: "CHAIN_ROOT_MISMATCH",
    });
  });

  it("refuses a proposal that does not extend the head or comes from a non-sealer", async () => {
    const a = await openChain("a");
    const stranger = NodeKey.generate();
    const built = await a.chain.buildBlock([transfer(new Uint8Array([4]), 100)], {
      proposer: stranger.nodeId,
      view: 0,
      nowMs: Date.now(),
    });
    const b = await openChain("b");
    await expect(
      b.chain.verifyBlock(encodeBlock(built.block), built.hash, { nowMs: Date.now() }),
    ).rejects.toMatchObject({ code: "CHAIN_BAD_PROPOSER" });
  });

  it("rejects a certificate signed by a non-validator", async () => {
    const a = await openChain("a");
    const built = await a.chain.buildBlock([transfer(new Uint8Array([5]), 100)], {
      proposer: sealer.nodeId,
      view: 0,
      nowMs: Date.now(),
    });
    const check = a.chain.checkCertificate(certify(NodeKey.generate(), 1, 0, built.hash), built.hash);
    expect(check.ok).toBe(false);
  });

  it("refuses to start on a data directory created with another genesis", async () => {
    const first = await openChain("a");
    await first.ledger.close();
    open.splice(0);
    await expect(openChain("a", makeGenesis(sealer, 1_800_000_000_000))).rejects.toMatchObject({
      code: "CHAIN_GENESIS_MISMATCH",
      message: expect.stringContaining("use the genesis this data was created with"),
    });
  });
});
