import type { StateChange, StateReader } from "../execution/index.js";
import type { Ledger, LedgerHead } from "../ledger/index.js";
import type { BlockHeader, Hash, NodeId } from "../types/index.js";
import { TxType } from "../types/index.js";
import { assert } from "../util/errors.js";
import { bytesEqual, bytesToHex } from "../util/hex.js";
import { ChainError } from "./errors.js";
import type { ExecutedProposal, ExecutedProposals } from "./executedProposals.js";

/** A proposal's state changes by key hex, built once per proposal (a pipelined child reads them per key). */
const changesByKey = new WeakMap<ExecutedProposal, Map<string, Uint8Array | null>>();
/** A proposal's native nonces (hex) and tx hashes (hex), built once per proposal. */
const replayKeys = new WeakMap<ExecutedProposal, { nonces: Set<string>; txHashes: Set<string> }>();

function changesOf(proposal: ExecutedProposal): Map<string, Uint8Array | null> {
  let changes = changesByKey.get(proposal);
  if (changes === undefined) {
    changes = new Map(proposal.executed.stateChanges.map(([k, v]: StateChange) => [bytesToHex(k), v]));
    changesByKey.set(proposal, changes);
  }
  return changes;
}

function replayKeysOf(proposal: ExecutedProposal): { nonces: Set<string>; txHashes: Set<string> } {
  let keys = replayKeys.get(proposal);
  if (keys === undefined) {
    keys = { nonces: new Set(), txHashes: new Set() };
    for (const tx of proposal.block.transactions) {
      keys.txHashes.add(bytesToHex(tx.hash));
      if (tx.type === TxType.Native) keys.nonces.add(bytesToHex(tx.nonce));
    }
    replayKeys.set(proposal, keys);
  }
  return keys;
}

/** Flat-state reads (the executor's StateReader, plus the ledger's batched read). */
export interface ParentState extends StateReader {
  getManyState(keys: Uint8Array[]): Promise<(Uint8Array | undefined)[]>;
}

/**
 * The block a new block executes on: the ledger head, or (pipelined PBFT) an executed-but-uncommitted block whose
 * ancestors down to the head this node executed too (`pending`, oldest first). Everything that used to read "the
 * head" for the next block reads it here: number, hash, header (timestamp, state root); the state after it (the
 * pending blocks' changes over the committed state, the newest winning); block hashes, proposers and native nonces
 * of the pending blocks over the ledger's.
 *
 * The committed state under a view moves while a block executes only by commits along its own lineage (the pending
 * blocks, in order), whose changes are layered on top anyway, so every read gives the same value before and after
 * such a commit. A commit of any other block makes the result stale: Chain refuses it after executing.
 */
export class ParentView {
  readonly number: number;
  readonly hash: Hash;

  constructor(
    private readonly ledger: Ledger,
    readonly head: LedgerHead,
    /** The parent's header: the head's, or the newest pending block's. */
    readonly header: BlockHeader,
    readonly pending: readonly ExecutedProposal[],
  ) {
    const tip = pending.at(-1);
    this.number = tip?.block.header.number ?? head.number;
    this.hash = tip?.hash ?? head.hash;
  }

  /** The state right after the parent. */
  state(): ParentState {
    if (this.pending.length === 0) return this.ledger;
    const layers = this.pending.map(changesOf).reverse(); // newest first
    const ledger = this.ledger;
    const lookup = (hex: string): Uint8Array | null | undefined => {
      for (const layer of layers) {
        const value = layer.get(hex);
        if (value !== undefined) return value;
      }
      return undefined;
    };
    return {
      async getState(key) {
        const value = lookup(bytesToHex(key));
        if (value !== undefined) return value ?? undefined;
        return ledger.getState(key);
      },
      async getManyState(keys) {
        const out: (Uint8Array | undefined)[] = new Array(keys.length);
        const fallThrough: number[] = [];
        keys.forEach((key, i) => {
          const value = lookup(bytesToHex(key));
          if (value === undefined) fallThrough.push(i);
          else out[i] = value ?? undefined;
        });
        if (fallThrough.length > 0) {
          const read = await ledger.getManyState(fallThrough.map((i) => keys[i] as Uint8Array));
          fallThrough.forEach((i, j) => {
            out[i] = read[j];
          });
        }
        return out;
      },
    };
  }

  /** BLOCKHASH: committed blocks from the ledger, pending ones from their hashes. */
  async getBlockHash(number: number): Promise<Hash | null> {
    if (number <= this.head.number) return this.ledger.getBlockHash(number);
    return this.pendingAt(number)?.hash ?? null;
  }

  /** Proposers of blocks [number − count, number − 1] (not genesis), from their hashed headers. */
  async proposersBefore(number: number, count: number): Promise<NodeId[]> {
    const out: NodeId[] = [];
    for (let h = Math.max(1, number - count); h < number; h++) {
      const header = h <= this.head.number ? await this.ledger.getHeader(h) : this.pendingAt(h)?.block.header;
      if (header) out.push(header.proposer);
    }
    return out;
  }

  /**
   * Native-nonce replay check of the child block: the pending blocks' nonces, and the ledger's anti-replay window
   * ending at the parent (not at the head: a node that committed the parent already asks the ledger the same
   * question, so both answer alike for the nonces of the block that leaves the window).
   */
  async nativeNoncesSeen(nonces: Uint8Array[]): Promise<boolean[]> {
    const seen = nonces.map((nonce) => {
      const hex = bytesToHex(nonce);
      return this.pending.some((p) => replayKeysOf(p).nonces.has(hex));
    });
    const ask = nonces.filter((_, i) => !seen[i]);
    if (ask.length === 0) return seen;
    const answers = await this.ledger.hasNativeNonces(ask, this.number); // one read for the block
    let next = 0;
    return seen.map((pendingHas) => pendingHas || (answers[next++] as boolean));
  }

  /** True when a pending block carries the tx with this hash hex (a child may not carry it again). */
  pendingTx(txHashHex: string): boolean {
    return this.pending.some((p) => replayKeysOf(p).txHashes.has(txHashHex));
  }

  private pendingAt(number: number): ExecutedProposal | undefined {
    return this.pending[number - this.head.number - 1];
  }
}

/**
 * What a block on `parentHash` executes on: the head (also when `parentHash` is omitted), or (pipelined PBFT) a
 * block executed here whose parents lead down to the head. CHAIN_UNKNOWN_PARENT when it is neither (not executed
 * here yet, or replaced by a committed block); CHAIN_PARENT_NOT_PIPELINEABLE when an uncommitted block on the way
 * changes the validator set or the system config (the child would be checked against the sealers and limits in
 * force after it, which this node takes from committed state only: consensus waits for that commit).
 */
export async function resolveParent(
  ledger: Ledger,
  executed: ExecutedProposals,
  parentHash: Hash | undefined,
  childNumber?: number,
): Promise<ParentView> {
  const head = ledger.head();
  assert(head !== null, "chain used before init()");
  if (parentHash === undefined || bytesEqual(parentHash, head.hash)) {
    const header = await ledger.getHeader(head.number);
    assert(header !== null, "head header missing");
    return new ParentView(ledger, head, header, []);
  }
  const pending = executed.lineage(parentHash, head);
  if (pending === null) throw await unknownParent(ledger, parentHash, head.number, childNumber);
  const changing = pending.find((p) => p.executed.validatorsChanged || p.executed.configChanged);
  if (changing !== undefined) {
    throw new ChainError(
      "CHAIN_PARENT_NOT_PIPELINEABLE",
      `block ${changing.block.header.number} (${bytesToHex(changing.hash)}) changes the validator set or the system config: the next block waits for its commit`,
      { parentNumber: changing.block.header.number },
    );
  }
  const tip = pending.at(-1) as ExecutedProposal;
  return new ParentView(ledger, head, tip.block.header, pending);
}

/** CHAIN_UNKNOWN_PARENT, saying whether a committed block replaced the parent. */
export async function unknownParent(
  ledger: Ledger,
  parentHash: Hash,
  headNumber: number,
  childNumber?: number,
): Promise<ChainError> {
  const parentNumber = childNumber === undefined ? undefined : childNumber - 1;
  const committed =
    parentNumber !== undefined && parentNumber >= 0 && parentNumber <= headNumber
      ? await ledger.getBlockHash(parentNumber)
      : null;
  const why =
    committed === null
      ? `neither the head (${headNumber}) nor a block executed here`
      : `not the block committed at height ${parentNumber} (${bytesToHex(committed)}): replaced, or never on this chain`;
  return new ChainError(
    "CHAIN_UNKNOWN_PARENT",
    `${childNumber === undefined ? "a block" : `block ${childNumber}`} has parent ${bytesToHex(parentHash)}: ${why}`,
    { parentHash: bytesToHex(parentHash), headNumber },
  );
}
