import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { ExecutedProposal } from "../../src/chain/executedProposals.js";
import { ParentView } from "../../src/chain/parentView.js";
import { NodeKey, privateKeyToAddress } from "../../src/crypto/index.js";
import type { ExecutedBlock, StateChange } from "../../src/execution/index.js";
import { accountKey, keyBytes, systemConfigKey } from "../../src/execution/stateLayout.js";
import type { LevelLedger } from "../../src/ledger/index.js";
import type { BlockHeader, Transaction } from "../../src/types/index.js";
import { bytesToHex } from "../../src/util/hex.js";
import { ADMIN_KEY, makeGenesis, nativeTx, openChainIn } from "./helpers.js";

const ADMIN_ACCOUNT = keyBytes(accountKey(privateKeyToAddress(ADMIN_KEY)));
const TX_COUNT_LIMIT = keyBytes(systemConfigKey("tx_count_limit"));
const K1 = new Uint8Array([0xf1, 1]);
const K2 = new Uint8Array([0xf1, 2]);
const v = (byte: number) => new Uint8Array([byte]);

/** An executed block at `number` on `parent` with these state changes and txs (only what ParentView reads). */
function pending(
  parent: { hash: Uint8Array; header: BlockHeader },
  proposer: NodeKey,
  stateChanges: StateChange[],
  transactions: Transaction[] = [],
): ExecutedProposal & { header: BlockHeader } {
  const number = parent.header.number + 1;
  const header: BlockHeader = {
    ...parent.header,
    number,
    parentHash: parent.hash,
    proposer: proposer.nodeId,
  };
  const hash = new Uint8Array(32).fill(number);
  const executed = { stateChanges } as ExecutedBlock;
  return { hash, header, block: { header, transactions, certificate: null }, executed };
}

describe("ParentView: the state and history a block on an uncommitted parent sees", () => {
  let dir: string;
  const open: LevelLedger[] = [];
  const sealer = NodeKey.generate();

  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "consort-parentview-"));
  });
  afterEach(async () => {
    for (const l of open.splice(0)) await l.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("layers the pending blocks' changes over the committed state (newest wins, a deletion hides the ledger's value), and their hashes, proposers and nonces over the ledger's", async () => {
    const { chain, ledger } = await openChainIn(dir, open, "a", makeGenesis(sealer));
    const genesis = { hash: chain.head().hash, header: (await ledger.getHeader(0)) as BlockHeader };
    const [p1Proposer, p2Proposer] = [NodeKey.generate(), NodeKey.generate()];
    const used = nativeTx(new Uint8Array([7]), 100);
    const p1 = pending(
      genesis,
      p1Proposer,
      [
        [K1, v(1)],
        [ADMIN_ACCOUNT, null],
      ],
      [used],
    );
    const p2 = pending(p1, p2Proposer, [
      [K1, v(2)],
      [K2, v(3)],
    ]);
    const view = new ParentView(ledger, chain.head(), p2.header, [p1, p2]);
    expect(view.number).toBe(2);
    expect(view.hash).toEqual(p2.hash);

    const state = view.state();
    const configValue = await ledger.getState(TX_COUNT_LIMIT);
    expect(configValue).toBeDefined();
    expect(await ledger.getState(ADMIN_ACCOUNT)).toBeDefined();
    expect(await state.getState(K1)).toEqual(v(2));
    expect(await state.getState(K2)).toEqual(v(3));
    expect(await state.getState(ADMIN_ACCOUNT)).toBeUndefined();
    expect(await state.getState(TX_COUNT_LIMIT)).toEqual(configValue);
    expect(await state.getManyState([TX_COUNT_LIMIT, K1, ADMIN_ACCOUNT, K2])).toEqual([
      configValue,
      v(2),
      undefined,
      v(3),
    ]);

    expect(await view.getBlockHash(0)).toEqual(genesis.hash);
    expect(await view.getBlockHash(1)).toEqual(p1.hash);
    expect(await view.getBlockHash(2)).toEqual(p2.hash);
    expect(await view.getBlockHash(3)).toBeNull();
    expect(await view.proposersBefore(3, 5)).toEqual([p1Proposer.nodeId, p2Proposer.nodeId]);
    expect(await view.proposersBefore(3, 1)).toEqual([p2Proposer.nodeId]);

    // One question per block: the answers line up with the nonces asked, pending ones and the ledger's mixed.
    const [n7, n8] = [new Uint8Array([7]), new Uint8Array([8])];
    expect(await view.nativeNoncesSeen([n8, n7, n8, n7])).toEqual([false, true, false, true]);
    expect(await view.nativeNoncesSeen([])).toEqual([]);
    expect(view.pendingTx(bytesToHex(used.hash))).toBe(true);

    // On the head itself: the ledger's state, nothing pending.
    const onHead = new ParentView(ledger, chain.head(), genesis.header, []);
    expect(onHead.state()).toBe(ledger);
    expect(await onHead.getBlockHash(1)).toBeNull();
  });
});
