import { keccak256 } from "../crypto/index.js";
import { bytesToHex, toQuantity } from "../util/hex.js";
import {
  type CallContext,
  callOrRevert,
  estimateGas,
  filterTag,
  getLogs,
  headNumber,
  type MethodImpl,
  method,
  paramFailAt,
  parseCallParam,
  parseLogQuery,
  resolveBlockNumber,
  resolveStateBlock,
  withParam,
} from "./context.js";
import { JsonRpcCode, JsonRpcError, RpcError } from "./errors.js";
import { formatEthBlock, formatEthReceipt, formatEthTx, txLocation } from "./ethFormat.js";
import type { RpcBlock } from "./interface.js";
import { logFilterParam, parseLogCriteria } from "./logs.js";
import { type BlockTag, p, paramFail, parseBlockTag, parseFixedData } from "./params.js";
import { failedTxError, submitAndWait, submitRaw, succeeded, waitTimeoutError } from "./submit.js";

const RAW_TX_MAX_BYTES = 1024 * 1024;
const SHA3_MAX_BYTES = 1024 * 1024;
const FEE_HISTORY_MAX_BLOCKS = 1024;

async function blockByTag(ctx: CallContext, tag: BlockTag, full: boolean): Promise<RpcBlock | null> {
  const n = resolveBlockNumber(ctx, tag);
  if (n > headNumber(ctx)) return null;
  return ctx.backend.getBlock(n, full);
}

async function firstLogIndex(ctx: CallContext, blockNumber: number, txIndex: number): Promise<number> {
  const receipts = await ctx.backend.getBlockReceipts(blockNumber);
  let n = 0;
  for (let i = 0; i < txIndex && i < receipts.length; i++) n += receipts[i]!.logs.length;
  return n;
}

function txInBlock(block: RpcBlock | null, index: number): object | null {
  if (!block?.transactions) return null;
  const tx = block.transactions[index];
  if (!tx) return null;
  return formatEthTx(tx, txLocation(block, index));
}

const noKeys = (name: string) =>
  method([p.any("arg0", true), p.any("arg1", true), p.any("arg2", true)] as const, () => {
    throw new RpcError(
      "RPC_UNSUPPORTED",
      `${name} is not supported: the node holds no keys; sign in the client and use eth_sendRawTransaction`,
    );
  });

const filterId = () => p.string("filter id", 66);

/** The Ethereum JSON-RPC methods (see docs/rpc.md). */
export const ethMethods = {
  eth_chainId: method([] as const, (_a, ctx) => toQuantity(ctx.backend.chainId)),
  net_version: method([] as const, (_a, ctx) => ctx.backend.chainId.toString(10)),
  net_listening: method([] as const, () => true),
  net_peerCount: method([] as const, (_a, ctx) => toQuantity(ctx.backend.peers().length)),
  web3_clientVersion: method([] as const, (_a, ctx) => ctx.backend.clientVersion),
  web3_sha3: method([p.data("data", SHA3_MAX_BYTES)] as const, ([data]) => bytesToHex(keccak256(data))),
  eth_accounts: method([] as const, () => []),
  eth_syncing: method([] as const, (_a, ctx) => {
    const s = ctx.backend.syncStatus();
    if (!s.syncing) return false;
    return {
      startingBlock: toQuantity(s.startingBlock),
      currentBlock: toQuantity(s.currentBlock),
      highestBlock: toQuantity(s.highestBlock),
    };
  }),
  eth_mining: method([] as const, () => false),
  eth_hashrate: method([] as const, () => "0x0"),

  eth_blockNumber: method([] as const, (_a, ctx) => toQuantity(headNumber(ctx))),
  eth_getBlockByNumber: method(
    [p.blockTag(), p.optBool("full transactions", false)] as const,
    async ([tag, full], ctx) => {
      const b = await blockByTag(ctx, tag, full);
      return b ? formatEthBlock(b, full, ctx.backend.blockGasLimit()) : null;
    },
  ),
  eth_getBlockByHash: method(
    [p.hash("block hash"), p.optBool("full transactions", false)] as const,
    async ([hash, full], ctx) => {
      const b = await ctx.backend.getBlock(hash, full);
      return b ? formatEthBlock(b, full, ctx.backend.blockGasLimit()) : null;
    },
  ),
  eth_getBlockTransactionCountByNumber: method([p.blockTag()] as const, async ([tag], ctx) => {
    const b = await blockByTag(ctx, tag, false);
    return b ? toQuantity(b.transactionHashes.length) : null;
  }),
  eth_getBlockTransactionCountByHash: method([p.hash("block hash")] as const, async ([hash], ctx) => {
    const b = await ctx.backend.getBlock(hash, false);
    return b ? toQuantity(b.transactionHashes.length) : null;
  }),
  eth_getUncleCountByBlockNumber: method([p.blockTag()] as const, async ([tag], ctx) =>
    (await blockByTag(ctx, tag, false)) ? "0x0" : null,
  ),
  eth_getUncleCountByBlockHash: method([p.hash("block hash")] as const, async ([hash], ctx) =>
    (await ctx.backend.getBlock(hash, false)) ? "0x0" : null,
  ),

  eth_getTransactionByHash: method([p.hash("transaction hash")] as const, async ([hash], ctx) => {
    const found = await ctx.backend.getTransaction(hash);
    if (!found) return null;
    return formatEthTx(found.tx, found.location);
  }),
  eth_getTransactionByBlockNumberAndIndex: method(
    [p.blockTag(), p.uint("index")] as const,
    async ([tag, index], ctx) => txInBlock(await blockByTag(ctx, tag, true), index),
  ),
  eth_getTransactionByBlockHashAndIndex: method(
    [p.hash("block hash"), p.uint("index")] as const,
    async ([hash, index], ctx) => txInBlock(await ctx.backend.getBlock(hash, true), index),
  ),
  eth_getTransactionReceipt: method([p.hash("transaction hash")] as const, async ([hash], ctx) => {
    const r = await ctx.backend.getReceipt(hash);
    if (!r) return null;
    const base = r.firstLogIndex ?? (await firstLogIndex(ctx, r.location.blockNumber, r.location.index));
    return formatEthReceipt(r.receipt, r.tx, r.location, base);
  }),
  eth_getBlockReceipts: method([p.optBlockTag()] as const, async ([tag], ctx) => {
    const b =
      tag instanceof Uint8Array ? await ctx.backend.getBlock(tag, true) : await blockByTag(ctx, tag, true);
    if (!b?.transactions) return null;
    const receipts = await ctx.backend.getBlockReceipts(b.header.number);
    let base = 0;
    return receipts.map((r, index) => {
      const out = formatEthReceipt(r, b.transactions![index]!, txLocation(b, index), base);
      base += r.logs.length;
      return out;
    });
  }),

  eth_getTransactionCount: method([p.address(), p.optBlockTag()] as const, async ([addr, tag], ctx) =>
    toQuantity(await ctx.backend.getNonce(addr, await resolveStateBlock(ctx, tag))),
  ),
  eth_getBalance: method([p.address(), p.optBlockTag()] as const, async ([addr, tag], ctx) =>
    toQuantity(await ctx.backend.getBalance(addr, await resolveStateBlock(ctx, tag))),
  ),
  eth_getCode: method([p.address(), p.optBlockTag()] as const, async ([addr, tag], ctx) =>
    bytesToHex(await ctx.backend.getCode(addr, await resolveStateBlock(ctx, tag))),
  ),
  eth_getStorageAt: method(
    [p.address(), p.storageKey(), p.optBlockTag()] as const,
    async ([addr, key, tag], ctx) => {
      const word = await ctx.backend.getStorageAt(addr, key, await resolveStateBlock(ctx, tag));
      const out = new Uint8Array(32);
      out.set(word.subarray(Math.max(0, word.length - 32)), 32 - Math.min(32, word.length));
      return bytesToHex(out);
    },
  ),
  eth_call: method(
    [p.object("transaction"), p.optBlockTag(), p.any("state overrides", true)] as const,
    async ([obj, tag, overrides], ctx) => {
      if (overrides !== undefined) paramFailAt(2, "state overrides", "state overrides are not supported");
      return callOrRevert(ctx, parseCallParam(obj, ctx.backend.chainId), await resolveStateBlock(ctx, tag));
    },
  ),
  eth_estimateGas: method(
    [p.object("transaction"), p.optBlockTag(), p.any("state overrides", true)] as const,
    async ([obj, tag, overrides], ctx) => {
      if (overrides !== undefined) paramFailAt(2, "state overrides", "state overrides are not supported");
      return toQuantity(
        await estimateGas(ctx, parseCallParam(obj, ctx.backend.chainId), await resolveStateBlock(ctx, tag)),
      );
    },
  ),
  eth_gasPrice: method([] as const, (_a, ctx) => toQuantity(ctx.backend.gasPrice())),
  eth_maxPriorityFeePerGas: method([] as const, (_a, ctx) => toQuantity(ctx.backend.gasPrice())),
  eth_feeHistory: method(
    [p.uint("block count"), p.blockTag("newest block"), p.any("reward percentiles", true)] as const,
    async ([count, newestTag, percentiles], ctx) => {
      const pct = parsePercentiles(percentiles);
      const head = headNumber(ctx);
      const newest = resolveBlockNumber(ctx, newestTag);
      if (newest > head) {
        throw new RpcError("RPC_NOT_FOUND", `request beyond head block: requested ${newest}, head ${head}`);
      }
      const blocks = Math.min(count, FEE_HISTORY_MAX_BLOCKS, newest + 1);
      const oldest = newest - blocks + 1;
      const gasLimit = ctx.backend.blockGasLimit();
      const gasUsedRatio: number[] = [];
      for (let n = oldest; n <= newest; n++) {
        const b = await ctx.backend.getBlock(n, false);
        gasUsedRatio.push(b && gasLimit > 0n ? Number(b.header.gasUsed) / Number(gasLimit) : 0);
      }
      const out: Record<string, unknown> = {
        oldestBlock: toQuantity(Math.max(oldest, 0)),
        baseFeePerGas: new Array(blocks + 1).fill("0x0"),
        gasUsedRatio,
      };
      if (pct) {
        const reward = toQuantity(ctx.backend.gasPrice());
        out.reward = gasUsedRatio.map(() => pct.map(() => reward));
      }
      return out;
    },
  ),
  eth_sendRawTransaction: method(
    [p.data("signed transaction", RAW_TX_MAX_BYTES)] as const,
    async ([raw], ctx) => {
      if (raw.length === 0) paramFailAt(0, "signed transaction", "empty transaction");
      if (!ctx.opts.syncSend) return bytesToHex(await submitRaw(ctx, raw));
      // rpc.syncSend: answer once committed, as FISCO BCOS does.
      const { hash, waited } = await submitAndWait(ctx, raw, ctx.opts.syncSendWaitMs);
      if (waited === null) throw waitTimeoutError(hash, ctx.opts.syncSendWaitMs);
      if (!succeeded(waited)) throw failedTxError(hash, waited);
      return bytesToHex(hash);
    },
  ),
  // ---- synchronous send and access lists (issue 16)
  eth_sendRawTransactionSync: method(
    [p.data("signed transaction", RAW_TX_MAX_BYTES), p.any("timeout", true)] as const,
    async ([raw, timeout], ctx) => {
      if (raw.length === 0) paramFailAt(0, "signed transaction", "empty transaction");
      const waitMs = syncTimeout(timeout, ctx);
      const { hash, waited } = await submitAndWait(ctx, raw, waitMs);
      if (waited === null) throw waitTimeoutError(hash, waitMs);
      const base = await firstLogIndex(ctx, waited.block.header.number, waited.index);
      const tx = waited.block.transactions?.[waited.index];
      const found = tx === undefined ? await ctx.backend.getReceipt(hash) : null;
      return formatEthReceipt(waited.receipt, tx ?? found!.tx, txLocation(waited.block, waited.index), base);
    },
  ),
  eth_createAccessList: method(
    [p.object("transaction"), p.optBlockTag()] as const,
    async ([obj, tag], ctx) => {
      const req = parseCallParam(obj, ctx.backend.chainId);
      const block = await resolveStateBlock(ctx, tag);
      const res = await ctx.calls.run(() => ctx.backend.createAccessList(req, block));
      const out: Record<string, unknown> = {
        accessList: res.accessList.map((e) => ({
          address: bytesToHex(e.address),
          storageKeys: e.storageKeys.map(bytesToHex),
        })),
        gasUsed: toQuantity(res.gasUsed),
      };
      if (res.error !== null) out.error = res.error;
      return out;
    },
  ),

  eth_sendTransaction: noKeys("eth_sendTransaction"),
  eth_sign: noKeys("eth_sign"),
  eth_signTransaction: noKeys("eth_signTransaction"),
  eth_signTypedData_v4: noKeys("eth_signTypedData_v4"),

  eth_getLogs: method([logFilterParam("filter")] as const, async ([obj], ctx) => getLogs(ctx, parseLog(obj))),
  eth_newFilter: method([logFilterParam("filter")] as const, ([obj], ctx) => {
    const q = parseLog(obj);
    if (q.blockHash) paramFailAt(0, "filter", "blockHash is not supported in eth_newFilter");
    return ctx.filters.install(
      "logs",
      { criteria: q.criteria, fromBlock: obj.fromBlock, toBlock: obj.toBlock },
      ctx.quotaKey,
    );
  }),
  eth_newBlockFilter: method([] as const, (_a, ctx) => ctx.filters.install("block", null, ctx.quotaKey)),
  eth_newPendingTransactionFilter: method([p.optBool("full transactions", false)] as const, ([full], ctx) => {
    if (full) paramFailAt(0, "full transactions", "full pending transactions are not supported");
    return ctx.filters.install("pendingTransactions", null, ctx.quotaKey);
  }),
  eth_getFilterChanges: method([filterId()] as const, ([id], ctx) => ctx.filters.changes(id)),
  eth_getFilterLogs: method([filterId()] as const, async ([id], ctx) => {
    const spec = ctx.filters.logSpec(id);
    return getLogs(ctx, {
      criteria: spec.criteria,
      fromBlock: filterTag(spec.fromBlock),
      toBlock: filterTag(spec.toBlock),
      blockHash: null,
    });
  }),
  eth_uninstallFilter: method([filterId()] as const, ([id], ctx) => ctx.filters.uninstall(id)),

  eth_subscribe: method(
    [p.string("subscription type", 32), p.any("options", true)] as const,
    ([kind, options], ctx) => {
      if (!ctx.session) throw new JsonRpcError(JsonRpcCode.MethodNotFound, "notifications not supported");
      switch (kind) {
        case "newHeads":
          if (options !== undefined) paramFailAt(1, "options", "newHeads takes no options");
          return ctx.hub.subscribe(ctx.session, { kind: "newHeads" });
        case "newPendingTransactions":
          if (options !== undefined && options !== false) {
            paramFailAt(1, "options", "full pending transactions are not supported");
          }
          return ctx.hub.subscribe(ctx.session, { kind: "newPendingTransactions" });
        case "logs": {
          let criteria: ReturnType<typeof parseLogCriteria>;
          if (options === undefined) criteria = { addresses: [], topics: [] };
          else if (typeof options !== "object" || options === null || Array.isArray(options)) {
            paramFailAt(1, "options", "expected a filter object with address and/or topics");
          } else
            criteria = withParam(1, "options", () => parseLogCriteria(options as Record<string, unknown>));
          return ctx.hub.subscribe(ctx.session, { kind: "logs", criteria });
        }
        default:
          paramFailAt(
            0,
            "subscription type",
            `unsupported "${kind}": use newHeads, logs or newPendingTransactions`,
          );
      }
    },
  ),
  eth_unsubscribe: method([p.string("subscription id", 66)] as const, ([id], ctx) => {
    if (!ctx.session) throw new JsonRpcError(JsonRpcCode.MethodNotFound, "notifications not supported");
    return ctx.hub.unsubscribe(ctx.session, id);
  }),
} satisfies Record<string, MethodImpl>;

function parseLog(obj: Record<string, unknown>) {
  return withParam(0, "filter", () => parseLogQuery(obj));
}

/** EIP-7966's optional timeout (ms, a quantity or a number): invalid, zero or above sendTransactionWaitMs → the default. */
function syncTimeout(v: unknown, ctx: CallContext): number {
  const fallback = ctx.opts.syncSendWaitMs;
  let ms: number | null = null;
  if (typeof v === "number" && Number.isSafeInteger(v)) ms = v;
  else if (typeof v === "string" && /^0x[0-9a-fA-F]{1,12}$/.test(v)) ms = Number.parseInt(v.slice(2), 16);
  if (ms === null || ms <= 0 || ms > ctx.opts.sendTransactionWaitMs) return fallback;
  return ms;
}

function parsePercentiles(v: unknown): number[] | null {
  if (v === undefined) return null;
  if (!Array.isArray(v) || v.length > 100)
    paramFailAt(2, "reward percentiles", "expected an array of at most 100 numbers");
  let prev = -1;
  for (const x of v) {
    if (typeof x !== "number" || !(x >= 0 && x <= 100) || x <= prev) {
      paramFailAt(2, "reward percentiles", "expected strictly increasing numbers between 0 and 100");
    }
    prev = x;
  }
  return v as number[];
}

// Re-exported for the FISCO table.
export { paramFail, parseBlockTag, parseFixedData };
