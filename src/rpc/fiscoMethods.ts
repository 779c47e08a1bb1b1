import { gethErrorMessage } from "../execution/index.js";
import type { Hash, Receipt, Transaction } from "../types/index.js";
import { ReceiptStatus, TxType } from "../types/index.js";
import { bigintToBytes, bytesEqual, bytesToHex } from "../util/hex.js";
import { backendCall, isRevert } from "./callLimit.js";
import { type CallContext, headNumber, type MethodImpl, method } from "./context.js";
import { RpcError } from "./errors.js";
import { txLocation } from "./ethFormat.js";
import type { RpcBlock, RpcTxLocation } from "./interface.js";
import { type ParamParser, p, paramFail, parseData, parseFixedData } from "./params.js";
import { decodeRevertReason } from "./revert.js";
import { submitAndWait } from "./submit.js";

/**
 * FISCO BCOS 3.x-style methods. Params start with [groupId, nodeName]; nodeName is accepted and ignored; another
 * group id is refused with -40001. Shapes follow FISCO's JSON (decimal numbers, node ids as bare hex, status 0 = ok).
 */

/** FISCO receipt status: 0 = success; 16 = RevertInstruction (our only failure kind). */
export const FISCO_STATUS_REVERT = 16;
const RAW_TX_MAX_BYTES = 1024 * 1024;

export const group = (): ParamParser<string> => p.string("groupId", 64);
export const nodeName = (): ParamParser<string | undefined> => p.optString("nodeName", 256);

/** FISCO clients may send hex without 0x. */
function fiscoHex(v: unknown): unknown {
  return typeof v === "string" && !v.startsWith("0x") ? `0x${v}` : v;
}
const fiscoData = (name: string, maxBytes: number): ParamParser<Uint8Array> => ({
  name,
  optional: false,
  parse: (v) => parseData(fiscoHex(v), maxBytes),
});
const fiscoFixed = (name: string, size: number): ParamParser<Uint8Array> => ({
  name,
  optional: false,
  parse: (v) => parseFixedData(fiscoHex(v), size),
});

export function checkGroup(ctx: CallContext, g: string): void {
  if (g !== ctx.backend.groupId) {
    throw new RpcError(
      "RPC_GROUP_NOT_FOUND",
      `group ${g} does not exist (this node serves ${ctx.backend.groupId})`,
    );
  }
}

export const nodeHex = (id: Uint8Array) => Buffer.from(id).toString("hex");

function word32(v: bigint): Uint8Array {
  const out = new Uint8Array(32);
  const b = bigintToBytes(v);
  out.set(b.subarray(Math.max(0, b.length - 32)), 32 - Math.min(32, b.length));
  return out;
}

/**
 * A proof as JSON: byte fields as 0x-hex (a ledger proof holds Uint8Arrays, which JSON.stringify would turn into
 * {"0":…} objects). Shape: {blockNumber, blockHash, index, leaf, root, proof: {index, leafCount, siblings}}; verify
 * with src/crypto's verifyMerkleProof(root, leaf, proof) against the header's txsRoot / receiptsRoot.
 */
export function proofJson(value: unknown): unknown {
  if (value instanceof Uint8Array) return bytesToHex(value);
  if (Array.isArray(value)) return value.map(proofJson);
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, proofJson(v)]));
  }
  return value;
}

export function formatFiscoTx(
  tx: Transaction,
  loc: RpcTxLocation | null,
  proof?: unknown,
): Record<string, unknown> {
  const sig = new Uint8Array(65);
  sig.set(word32(tx.r), 0);
  sig.set(word32(tx.s), 32);
  sig[64] = Number(tx.v & 0xffn);
  const native = tx.type === TxType.Native;
  const out: Record<string, unknown> = {
    version: 0,
    hash: bytesToHex(tx.hash),
    from: bytesToHex(tx.sender),
    to: tx.to ? bytesToHex(tx.to) : "",
    input: bytesToHex(tx.input),
    value: tx.value.toString(10),
    gasLimit: Number(tx.gasLimit),
    gasPrice: "gasPrice" in tx ? tx.gasPrice.toString(10) : "0",
    nonce: native ? Buffer.from(tx.nonce).toString("hex") : tx.nonce.toString(10),
    blockLimit: native ? tx.blockLimit : 0,
    chainID: tx.chainId.toString(10),
    groupID: native ? tx.groupId : "",
    abi: "",
    signature: bytesToHex(sig),
    importTime: 0,
    extraData: "",
    /** FISCO: 0 = native transaction, 1 = Ethereum-encoded. */
    type: native ? 0 : 1,
  };
  if (loc) {
    out.blockNumber = loc.blockNumber;
    out.blockHash = bytesToHex(loc.blockHash);
    out.transactionIndex = loc.index;
  }
  if (proof !== undefined) out.txProof = proofJson(proof);
  return out;
}

export function formatFiscoReceipt(
  receipt: Receipt,
  tx: Transaction,
  loc: RpcTxLocation,
  proofs?: { txProof: unknown; receiptProof: unknown },
): Record<string, unknown> {
  const ok = receipt.status === ReceiptStatus.Success;
  const out: Record<string, unknown> = {
    version: 0,
    blockNumber: loc.blockNumber,
    blockHash: bytesToHex(loc.blockHash),
    transactionIndex: loc.index,
    transactionHash: bytesToHex(tx.hash),
    from: bytesToHex(tx.sender),
    to: tx.to ? bytesToHex(tx.to) : "",
    input: bytesToHex(tx.input),
    contractAddress: receipt.contractAddress ? bytesToHex(receipt.contractAddress) : "",
    gasUsed: receipt.gasUsed.toString(10),
    status: ok ? 0 : FISCO_STATUS_REVERT,
    message: ok ? "" : (decodeRevertReason(receipt.output) ?? "execution reverted"),
    output: bytesToHex(receipt.output),
    logEntries: receipt.logs.map((l) => ({
      address: bytesToHex(l.address),
      topics: l.topics.map(bytesToHex),
      data: bytesToHex(l.data),
    })),
  };
  if (proofs) {
    out.txProof = proofJson(proofs.txProof);
    out.receiptProof = proofJson(proofs.receiptProof);
  }
  return out;
}

/** A block in FISCO's shape; its sealer list, weights and signature indexes are those of the set that signed it. */
async function formatFiscoBlock(ctx: CallContext, b: RpcBlock, onlyHeader: boolean, onlyTxHash: boolean) {
  const h = b.header;
  const sealers = await ctx.backend.sealersAt(h.number);
  const sealerIndex = sealers.findIndex((s) => bytesEqual(s.nodeId, h.proposer));
  const out: Record<string, unknown> = {
    version: 0,
    number: h.number,
    hash: bytesToHex(b.hash),
    parentInfo: h.number > 0 ? [{ blockNumber: h.number - 1, blockHash: bytesToHex(h.parentHash) }] : [],
    timestamp: h.timestampMs,
    sealer: sealerIndex,
    sealerList: sealers.map((s) => nodeHex(s.nodeId)),
    consensusWeights: sealers.map((s) => s.weight),
    signatureList: (b.certificate?.signatures ?? []).map((s) => ({
      index: sealers.findIndex((x) => bytesEqual(x.nodeId, s.nodeId)),
      signature: bytesToHex(s.signature),
    })),
    txsRoot: bytesToHex(h.txRoot),
    receiptsRoot: bytesToHex(h.receiptRoot),
    stateRoot: bytesToHex(h.stateRoot),
    gasUsed: h.gasUsed.toString(10),
    extraData: "0x",
    view: h.view,
  };
  if (!onlyHeader) {
    if (onlyTxHash || !b.transactions) out.transactions = b.transactionHashes.map(bytesToHex);
    else {
      out.transactions = b.transactions.map((tx, index) => formatFiscoTx(tx, txLocation(b, index)));
    }
  }
  return out;
}

async function receiptWithProof(ctx: CallContext, hash: Hash, requireProof: boolean) {
  const r = await ctx.backend.getReceipt(hash);
  if (!r) return null;
  const proofs = requireProof
    ? {
        txProof: await ctx.backend.getTransactionProof(hash),
        receiptProof: await ctx.backend.getReceiptProof(hash),
      }
    : undefined;
  return formatFiscoReceipt(r.receipt, r.tx, r.location, proofs);
}

export const fiscoMethods = {
  getBlockNumber: method([group(), nodeName()] as const, ([g], ctx) => {
    checkGroup(ctx, g);
    return headNumber(ctx);
  }),
  getBlockByNumber: method(
    [
      group(),
      nodeName(),
      p.uint("blockNumber"),
      p.optBool("onlyHeader", true),
      p.optBool("onlyTxHash", true),
    ] as const,
    async ([g, , n, onlyHeader, onlyTxHash], ctx) => {
      checkGroup(ctx, g);
      const b = await ctx.backend.getBlock(n, !onlyHeader && !onlyTxHash);
      return b ? await formatFiscoBlock(ctx, b, onlyHeader, onlyTxHash) : null;
    },
  ),
  getBlockByHash: method(
    [
      group(),
      nodeName(),
      fiscoFixed("blockHash", 32),
      p.optBool("onlyHeader", true),
      p.optBool("onlyTxHash", true),
    ] as const,
    async ([g, , hash, onlyHeader, onlyTxHash], ctx) => {
      checkGroup(ctx, g);
      const b = await ctx.backend.getBlock(hash, !onlyHeader && !onlyTxHash);
      return b ? await formatFiscoBlock(ctx, b, onlyHeader, onlyTxHash) : null;
    },
  ),
  getBlockHashByNumber: method(
    [group(), nodeName(), p.uint("blockNumber")] as const,
    async ([g, , n], ctx) => {
      checkGroup(ctx, g);
      const b = await ctx.backend.getBlock(n, false);
      return b ? bytesToHex(b.hash) : null;
    },
  ),
  getTransaction: method(
    [group(), nodeName(), fiscoFixed("txHash", 32), p.optBool("requireProof", false)] as const,
    async ([g, , hash, requireProof], ctx) => {
      checkGroup(ctx, g);
      const found = await ctx.backend.getTransaction(hash);
      if (!found) return null;
      const proof = requireProof && found.location ? await ctx.backend.getTransactionProof(hash) : undefined;
      return formatFiscoTx(found.tx, found.location, proof);
    },
  ),
  getTransactionReceipt: method(
    [group(), nodeName(), fiscoFixed("txHash", 32), p.optBool("requireProof", false)] as const,
    async ([g, , hash, requireProof], ctx) => {
      checkGroup(ctx, g);
      return receiptWithProof(ctx, hash, requireProof);
    },
  ),
  sendTransaction: method(
    [
      group(),
      nodeName(),
      fiscoData("transaction", RAW_TX_MAX_BYTES),
      p.optBool("requireProof", false),
    ] as const,
    async ([g, , raw, requireProof], ctx) => {
      checkGroup(ctx, g);
      if (raw.length === 0) paramFail("empty transaction");
      const { hash, waited } = await submitAndWait(ctx, raw, ctx.opts.sendTransactionWaitMs);
      if (!waited) {
        const late = await receiptWithProof(ctx, hash, requireProof);
        if (late) return late;
        throw new RpcError(
          "RPC_TIMEOUT",
          `transaction ${bytesToHex(hash)} was accepted but not committed within ${ctx.opts.sendTransactionWaitMs} ms`,
        );
      }
      return receiptWithProof(ctx, hash, requireProof);
    },
  ),
  call: method(
    [group(), nodeName(), fiscoFixed("to", 20), fiscoData("data", RAW_TX_MAX_BYTES)] as const,
    async ([g, , to, data], ctx) => {
      checkGroup(ctx, g);
      const res = await ctx.calls.run(() =>
        backendCall(
          ctx.backend,
          { from: null, to, data, value: 0n, gasLimit: null, gasPrice: null },
          "latest",
        ),
      );
      const ok = res.status === ReceiptStatus.Success;
      return {
        blockNumber: ctx.backend.headNumber(),
        output: bytesToHex(res.output),
        status: ok ? 0 : FISCO_STATUS_REVERT,
        message: ok
          ? ""
          : isRevert(res)
            ? (decodeRevertReason(res.output) ?? "execution reverted")
            : gethErrorMessage(res.error!),
        gasUsed: res.gasUsed.toString(10),
      };
    },
  ),
  getCode: method([group(), nodeName(), fiscoFixed("address", 20)] as const, async ([g, , addr], ctx) => {
    checkGroup(ctx, g);
    return bytesToHex(await ctx.backend.getCode(addr, "latest"));
  }),
  /** An optional third param (an extension) names a block: the sealers that signed it. */
  getSealerList: method(
    [group(), nodeName(), p.optUint("blockNumber")] as const,
    async ([g, , blockNumber], ctx) => {
      checkGroup(ctx, g);
      if (blockNumber !== undefined && blockNumber > ctx.backend.headNumber()) {
        throw new RpcError("RPC_NOT_FOUND", `block ${blockNumber} not found`);
      }
      const sealers =
        blockNumber === undefined ? ctx.backend.sealers() : await ctx.backend.sealersAt(blockNumber);
      return sealers.map((s) => ({ nodeID: nodeHex(s.nodeId), weight: s.weight }));
    },
  ),
  getObserverList: method([group(), nodeName()] as const, ([g], ctx) => {
    checkGroup(ctx, g);
    return ctx.backend.observers().map(nodeHex);
  }),
  getPbftView: method([group(), nodeName()] as const, ([g], ctx) => {
    checkGroup(ctx, g);
    return ctx.backend.consensusStatus().view;
  }),
  getConsensusStatus: method([group(), nodeName()] as const, ([g], ctx) => {
    checkGroup(ctx, g);
    const s = ctx.backend.consensusStatus();
    const sealers = ctx.backend.sealers();
    return {
      nodeID: nodeHex(ctx.backend.nodeInfo().nodeId),
      index: s.nodeIndex,
      view: s.view,
      blockNumber: s.height,
      leaderIndex: s.leader ? sealers.findIndex((x) => bytesEqual(x.nodeId, s.leader!)) : -1,
      leader: s.leader ? nodeHex(s.leader) : null,
      consensusNodesNum: sealers.length,
      sealerList: sealers.map((x) => ({ nodeID: nodeHex(x.nodeId), weight: x.weight })),
    };
  }),
  getSyncStatus: method([group(), nodeName()] as const, async ([g], ctx) => {
    checkGroup(ctx, g);
    const s = ctx.backend.syncStatus();
    const head = ctx.backend.headNumber();
    const [genesis, latest] = await Promise.all([
      ctx.backend.getBlock(0, false),
      ctx.backend.getBlock(head, false),
    ]);
    return {
      isSyncing: s.syncing,
      nodeID: nodeHex(ctx.backend.nodeInfo().nodeId),
      blockNumber: head,
      genesisHash: genesis ? bytesToHex(genesis.hash) : null,
      latestHash: latest ? bytesToHex(latest.hash) : null,
      knownHighestNumber: s.highestBlock,
      peers: ctx.backend.peers().map((peer) => ({ nodeID: nodeHex(peer.nodeId) })),
    };
  }),
  getPeers: method([p.optString("groupId", 64)] as const, (_a, ctx) => {
    const info = ctx.backend.nodeInfo();
    return {
      p2pNodeID: nodeHex(info.nodeId),
      peers: ctx.backend.peers().map((peer) => ({
        p2pNodeID: nodeHex(peer.nodeId),
        peerId: peer.peerId,
        endPoint: peer.address,
        groupNodeIDInfo: [{ group: ctx.backend.groupId, nodeIDList: [nodeHex(peer.nodeId)] }],
      })),
    };
  }),
  getPendingTxSize: method([group(), nodeName()] as const, ([g], ctx) => {
    checkGroup(ctx, g);
    return ctx.backend.pendingCount();
  }),
  getTotalTransactionCount: method([group(), nodeName()] as const, ([g], ctx) => {
    checkGroup(ctx, g);
    const t = ctx.backend.totalTransactionCount();
    return {
      blockNumber: ctx.backend.headNumber(),
      transactionCount: t.transactionCount,
      failedTransactionCount: t.failedTransactionCount,
    };
  }),
  getSystemConfigByKey: method(
    [group(), nodeName(), p.string("key", 128)] as const,
    async ([g, , key], ctx) => {
      checkGroup(ctx, g);
      const c = await ctx.backend.getSystemConfig(key);
      if (!c) throw new RpcError("RPC_NOT_FOUND", `system config key "${key}" is not set`);
      return { blockNumber: c.enableNumber, value: c.value };
    },
  ),
  getNodeInfo: method([p.optString("groupId", 64), nodeName()] as const, (_a, ctx) => {
    const info = ctx.backend.nodeInfo();
    return {
      nodeID: nodeHex(info.nodeId),
      type: info.role,
      version: info.version,
      chainID: ctx.backend.chainId.toString(10),
      groupID: ctx.backend.groupId,
    };
  }),
} satisfies Record<string, MethodImpl>;
