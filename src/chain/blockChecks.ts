import { type ExecutedBlock, ExecutionError } from "../execution/index.js";
import type { BlockHeader, Hash, NodeId, Transaction } from "../types/index.js";
import { bytesEqual, bytesToHex } from "../util/hex.js";
import type { Logger } from "../util/logger.js";
import { ChainError } from "./errors.js";
import type { ParentView } from "./parentView.js";

/** A proposal's timestamp may run ahead of this node's clock by at most this much. */
export const TIMESTAMP_DRIFT_MS_MAX = 15_000;

/** The header follows its parent: the next height, a later timestamp (not too far ahead of ours), a sealer. */
export function checkExtends(
  header: BlockHeader,
  parent: ParentView,
  nowMs: number,
  isSealer: (nodeId: NodeId) => boolean,
): void {
  if (header.number !== parent.number + 1) {
    throw new ChainError(
      "CHAIN_BAD_HEIGHT",
      `block ${header.number} does not follow its parent ${parent.number}`,
    );
  }
  if (header.timestampMs <= parent.header.timestampMs) {
    throw new ChainError(
      "CHAIN_BAD_TIMESTAMP",
      `block ${header.number} timestamp ${header.timestampMs} is out of range: not after its parent's (${parent.header.timestampMs})`,
    );
  }
  if (header.timestampMs > nowMs + TIMESTAMP_DRIFT_MS_MAX) {
    // Every such refusal says the proposer's clock and this node's disagree: name it, the operator must fix one.
    throw new ChainError(
      "CHAIN_BAD_TIMESTAMP",
      `block ${header.number} timestamp ${header.timestampMs} is out of range: ${header.timestampMs - nowMs} ms ` +
        `ahead of this node's clock (at most ${TIMESTAMP_DRIFT_MS_MAX}): the proposer's clock or this node's is wrong (NTP?)`,
    );
  }
  if (!isSealer(header.proposer)) {
    throw new ChainError("CHAIN_BAD_PROPOSER", `block ${header.number} proposer is not a sealer`);
  }
}

/**
 * A pipelined block may not carry a tx its uncommitted parents carry (the executor would refuse it too, by nonce:
 * this names the cause).
 */
export function checkNotInParent(header: BlockHeader, txs: Transaction[], parent: ParentView): void {
  if (parent.pending.length === 0) return;
  const repeated = txs.find((tx) => parent.pendingTx(bytesToHex(tx.hash)));
  if (repeated === undefined) return;
  throw new ChainError(
    "CHAIN_DUPLICATE_TX",
    `block ${header.number} carries tx ${bytesToHex(repeated.hash)}, which its uncommitted parent chain carries already`,
    { txHash: bytesToHex(repeated.hash) },
  );
}

/**
 * A proposal whose execution broke block_gas_limit (a tx whose gas limit exceeded what the block had left: the
 * executor's BLOCK_GAS_LIMIT_REACHED, in verify mode EXEC_INVALID_BLOCK) is the proposer's misbehaviour: an honest
 * leader's build leaves such a tx out. Logged as evidence; the caller rethrows (an invalid proposal).
 */
export function logGasLimitEvidence(header: BlockHeader, err: unknown, logger: Logger): void {
  if (!(err instanceof ExecutionError) || err.code !== "EXEC_INVALID_BLOCK") return;
  if (err.meta.code !== "BLOCK_GAS_LIMIT_REACHED") return;
  logger.warn(
    {
      proposer: bytesToHex(header.proposer),
      height: header.number,
      view: header.view,
      txIndex: err.meta.txIndex,
      reason: err.meta.reason,
    },
    "proposer misbehaviour evidence: block over block_gas_limit",
  );
}

/** Every root and the gas used of the header equal those of local execution. */
export function checkRoots(header: BlockHeader, executed: ExecutedBlock): void {
  const mismatches: string[] = [];
  if (!bytesEqual(header.stateRoot, executed.stateRoot)) mismatches.push("stateRoot");
  if (!bytesEqual(header.txRoot, executed.txRoot)) mismatches.push("txRoot");
  if (!bytesEqual(header.receiptRoot, executed.receiptRoot)) mismatches.push("receiptRoot");
  if (header.gasUsed !== executed.gasUsed) mismatches.push("gasUsed");
  if (mismatches.length > 0) {
    throw new ChainError(
      "CHAIN_ROOT_MISMATCH",
      `block ${header.number}: ${mismatches.join(", ")} differ from local execution`,
    );
  }
}

/**
 * A block commits on the head only: its parent committed (not merely executed, `parentExecuted`), and not replaced
 * by another.
 */
export function checkCommitsOnHead(
  proposal: { hash: Hash; block: { header: BlockHeader } },
  head: { number: number; hash: Hash },
  parentExecuted: boolean,
): void {
  const header = proposal.block.header;
  if (header.number === head.number + 1 && bytesEqual(header.parentHash, head.hash)) return;
  const parentState = parentExecuted
    ? "is executed here but not committed: commit it first"
    : "is not on this chain (replaced by a committed block, or unknown)";
  throw new ChainError(
    "CHAIN_PARENT_NOT_HEAD",
    `block ${header.number} (${bytesToHex(proposal.hash)}) cannot commit on head ${head.number} (${bytesToHex(head.hash)}): its parent ${bytesToHex(header.parentHash)} ${parentState}`,
    { number: header.number, headNumber: head.number },
  );
}
