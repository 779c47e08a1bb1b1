import type { ConsortMetrics } from "../metrics/index.js";
import type { Hash, Receipt } from "../types/index.js";
import { ReceiptStatus } from "../types/index.js";
import { bytesToHex } from "../util/hex.js";
import type { Logger } from "../util/logger.js";
import { backendCall, type CallLimiter, callFailure } from "./callLimit.js";
import { JsonRpcCode, JsonRpcError, RpcError } from "./errors.js";
import type { Json } from "./ethFormat.js";
import type { FilterManager } from "./filters.js";
import type { RpcAccessListEntry, RpcBackend, RpcBlock, RpcCallRequest, RpcStateBlock } from "./interface.js";
import { blockLogs, bloomMayMatch, type LogCriteria, parseLogCriteria } from "./logs.js";
import type { RpcServerOptions } from "./options.js";
import {
  type BlockTag,
  field,
  type ParamParser,
  type ParsedParams,
  paramFail,
  parseBlockTag,
  parseData,
  parseFixedData,
  parseUint,
} from "./params.js";
import type { Principal } from "./principal.js";
import type { Right } from "./rights.js";
import type { SubscriptionHub, WsSession } from "./subscriptions.js";

/** Everything a method handler may use. `session` is set for WebSocket calls only. */
export interface CallContext {
  backend: RpcBackend;
  opts: RpcServerOptions;
  filters: FilterManager;
  hub: SubscriptionHub;
  receipts: ReceiptWaiters;
  /** Bounds the call executions (eth_call, eth_estimateGas, FISCO call) running at once. */
  calls: CallLimiter;
  session: WsSession | null;
  /** Who is calling (the anonymous principal when the server runs without auth). */
  principal: Principal;
  /** Rate limits and quotas (filters, subscriptions) count against this key (see quotaKey). */
  quotaKey: string;
  logger: Logger;
  metrics?: ConsortMetrics | null;
  /**
   * A batch's calls read the head number once, as the batch found it on arrival (set by the dispatcher; see
   * headNumber). Undefined for a single call.
   */
  batchHead?: number;
}

/**
 * The head number a call reports and resolves "latest" to. Within a batch it is the head when the batch arrived:
 * a batch is answered in order, and a block can commit while an earlier call of it reads the ledger. ethers'
 * `tx.wait()` sends [eth_getTransactionReceipt, eth_blockNumber] in one batch and waits for a block after the one
 * that batch reports: had the tx's block committed between the two calls, it would report that block with a null
 * receipt and wait, on a chain that seals no empty block, for good.
 */
export function headNumber(ctx: CallContext): number {
  return ctx.batchHead ?? ctx.backend.headNumber();
}

/** A method's params and handler, as the tables declare them (see `method`). */
export interface MethodImpl {
  params: readonly ParamParser<unknown>[];
  handler(args: readonly unknown[], ctx: CallContext): unknown;
}

/**
 * A method the server dispatches: its implementation and the one right a caller needs for it. `right` is required:
 * the tables get it from src/rpc/rights.ts, whose tables must name every method (a new method without a right fails
 * typecheck), and the dispatcher refuses a call whose principal lacks it.
 */
export interface MethodDef extends MethodImpl {
  right: Right;
}

/** Declare a method: its params' parsers and a handler receiving the parsed, typed params. */
export function method<const P extends readonly ParamParser<unknown>[]>(
  params: P,
  handler: (args: ParsedParams<P>, ctx: CallContext) => unknown,
): MethodImpl {
  return { params, handler: handler as MethodImpl["handler"] };
}

/** latest/pending/safe/finalized → head (blocks are final at commit), earliest → 0. */
export function resolveBlockNumber(ctx: CallContext, tag: BlockTag): number {
  if (typeof tag === "number") return tag;
  if (tag === "earliest") return 0;
  return headNumber(ctx);
}

/** The state a read (balance, nonce, call, …) runs on. A future block number is refused like geth does. */
export async function resolveStateBlock(
  ctx: CallContext,
  tag: BlockTag | Uint8Array,
): Promise<RpcStateBlock> {
  if (tag instanceof Uint8Array) {
    const b = await ctx.backend.getBlock(tag, false);
    if (!b) throw new RpcError("RPC_NOT_FOUND", `header for hash ${bytesToHex(tag)} not found`);
    return b.header.number === ctx.backend.headNumber() ? "latest" : b.header.number;
  }
  if (tag === "pending") return "pending";
  if (tag === "latest" || tag === "safe" || tag === "finalized") return "latest";
  if (tag === "earliest") return 0;
  const head = ctx.backend.headNumber();
  if (tag > head) throw new RpcError("RPC_NOT_FOUND", "header not found");
  return tag === head ? "latest" : tag;
}

const CALL_DATA_MAX_BYTES = 1024 * 1024;

function quantityField(v: unknown): bigint {
  if (typeof v !== "string" || !/^0x[0-9a-fA-F]{1,64}$/.test(v))
    paramFail("expected a hex quantity of at most 256 bits");
  return BigInt(v);
}

const ACCESS_LIST_MAX_ENTRIES = 1024;

/** An EIP-2930 access list: [{address, storageKeys: [32-byte hex]}]. */
function parseAccessList(v: unknown): RpcAccessListEntry[] {
  if (!Array.isArray(v) || v.length > ACCESS_LIST_MAX_ENTRIES) {
    paramFail(`accessList: expected an array of at most ${ACCESS_LIST_MAX_ENTRIES} entries`);
  }
  return v.map((e) => {
    if (typeof e !== "object" || e === null || !Array.isArray((e as { storageKeys?: unknown }).storageKeys)) {
      paramFail("accessList: expected entries {address, storageKeys: [...]}");
    }
    const entry = e as { address?: unknown; storageKeys: unknown[] };
    if (entry.storageKeys.length > ACCESS_LIST_MAX_ENTRIES) paramFail("accessList: too many storage keys");
    return {
      address: parseFixedData(entry.address, 20),
      storageKeys: entry.storageKeys.map((k) => parseFixedData(k, 32)),
    };
  });
}

/** Parse an eth_call / eth_estimateGas transaction object. */
export function parseCallRequest(obj: Record<string, unknown>, chainId: bigint): RpcCallRequest {
  const askedChainId = field(obj, "chainId", quantityField);
  if (askedChainId !== undefined && askedChainId !== chainId) {
    paramFail(`chainId does not match node's (have=${askedChainId}, want=${chainId})`);
  }
  const data = field(obj, "input", (v) => parseData(v, CALL_DATA_MAX_BYTES));
  const data2 = field(obj, "data", (v) => parseData(v, CALL_DATA_MAX_BYTES));
  if (data && data2 && bytesToHex(data) !== bytesToHex(data2)) {
    paramFail('both "data" and "input" are set and not equal');
  }
  const gasPrice = parseCallGasPrice(obj);
  // An EIP-7702 list would be charged 25,000 gas per entry; this chain accepts no type-4 transaction, so an
  // estimate that ignored the list would price a transaction that cannot be sent.
  if (obj.authorizationList !== undefined && obj.authorizationList !== null) {
    paramFail("authorizationList is not supported: this chain accepts no EIP-7702 (type 4) transactions");
  }
  const accessList = field(obj, "accessList", parseAccessList);
  return {
    ...(accessList === undefined ? {} : { accessList }),
    from: field(obj, "from", (v) => parseFixedData(v, 20)) ?? null,
    to: field(obj, "to", (v) => parseFixedData(v, 20)) ?? null,
    data: data ?? data2 ?? new Uint8Array(0),
    value: field(obj, "value", quantityField) ?? 0n,
    gasLimit: field(obj, "gas", quantityField) ?? null,
    gasPrice,
  };
}

/** -32602 naming param `index` (`name`) and why it is refused. */
export function paramFailAt(index: number, name: string, why: string): never {
  throw new JsonRpcError(JsonRpcCode.InvalidParams, `invalid params: param ${index} (${name}): ${why}`);
}

/** Runs a parser of param `index`: a plain error it throws becomes -32602 naming that param. */
export function withParam<T>(index: number, name: string, f: () => T): T {
  try {
    return f();
  } catch (err) {
    if (err instanceof Error && !(err instanceof JsonRpcError) && !(err instanceof RpcError)) {
      paramFailAt(index, name, err.message);
    }
    throw err;
  }
}

/** The transaction object of eth_call & co. (param 0); a bad field is -32602 naming it. */
export function parseCallParam(obj: Record<string, unknown>, chainId: bigint): RpcCallRequest {
  return withParam(0, "transaction", () => parseCallRequest(obj, chainId));
}

/** The price a call runs at: gasPrice, or maxFeePerGas, or maxPriorityFeePerGas; refused as geth refuses a mix. */
function parseCallGasPrice(obj: Record<string, unknown>): bigint | null {
  const gasPrice = field(obj, "gasPrice", quantityField);
  const maxFee = field(obj, "maxFeePerGas", quantityField);
  const maxTip = field(obj, "maxPriorityFeePerGas", quantityField);
  if (gasPrice !== undefined && (maxFee !== undefined || maxTip !== undefined)) {
    paramFail("both gasPrice and (maxFeePerGas or maxPriorityFeePerGas) specified");
  }
  if (maxFee !== undefined && maxTip !== undefined && maxFee < maxTip) {
    paramFail(`maxFeePerGas (${maxFee}) < maxPriorityFeePerGas (${maxTip})`);
  }
  return gasPrice ?? maxFee ?? maxTip ?? null;
}

/**
 * eth_call: output; a revert is geth's code 3 error with the revert data, an exceptional halt -32000 ("out of gas",
 * "invalid opcode: …"), a run past the executor's time budget -32000 "execution aborted (timeout = 1s)". At most
 * maxConcurrentCalls run at once (-32005 beyond the queue).
 */
export async function callOrRevert(
  ctx: CallContext,
  req: RpcCallRequest,
  block: RpcStateBlock,
): Promise<string> {
  const res = await ctx.calls.run(() => backendCall(ctx.backend, req, block));
  if (res.status !== ReceiptStatus.Success) throw callFailure(res);
  return bytesToHex(res.output);
}

/**
 * eth_estimateGas, in the context of the next block (the backend runs calls as block head + 1, with a timestamp
 * after the head's and the head's state root as PREVRANDAO) at the gas price the transaction will carry (the
 * request's, else eth_gasPrice), so values the transaction writes (block.number, block.timestamp, tx.gasprice,
 * block.basefee, block.prevrandao) cost what they will cost when it lands. Runs at the cap (the request's gas or
 * the block gas limit, lowered to what the backend reports it used) first; failure → geth's errors: revert →
 * code 3 with the revert data, out of gas → -32000 "gas required exceeds allowance (cap)", other halts → -32000
 * with geth's message. Then binary search on success: gasUsed, a 64/63 margin, then halving down to 1.5% (at most
 * ~20 runs); the answer is always a limit that succeeded. The whole search holds one execution slot; each run is
 * bounded by its gas and, as a safety net, by the backend's time budget.
 */
export async function estimateGas(
  ctx: CallContext,
  req: RpcCallRequest,
  block: RpcStateBlock,
): Promise<bigint> {
  return ctx.calls.run(async () => {
    const priced: RpcCallRequest = { ...req, gasPrice: req.gasPrice ?? ctx.backend.gasPrice() };
    const run = (gas: bigint) => backendCall(ctx.backend, { ...priced, gasLimit: gas }, block);
    const requested = req.gasLimit ?? ctx.backend.blockGasLimit();
    const first = await run(requested);
    const cap = first.gasLimit !== undefined && first.gasLimit < requested ? first.gasLimit : requested;
    if (first.status !== ReceiptStatus.Success) {
      if (first.error === "out of gas") {
        throw new RpcError("RPC_EXECUTION_FAILED", `gas required exceeds allowance (${cap})`);
      }
      throw callFailure(first);
    }
    const ok = async (gas: bigint) => (await run(gas)).status;
    const used = first.gasUsed;
    if (used >= cap) return cap;
    if ((await ok(used)) === ReceiptStatus.Success) return used;
    let lo = used;
    let hi = cap;
    const margin = ((used + 2300n) * 64n) / 63n;
    if (margin < hi) {
      if ((await ok(margin)) === ReceiptStatus.Success) hi = margin;
      else lo = margin;
    }
    for (let i = 0; i < 40 && hi - lo > 1n && (hi - lo) * 1000n > hi * 15n; i++) {
      const mid = (lo + hi) / 2n;
      if ((await ok(mid)) === ReceiptStatus.Success) hi = mid;
      else lo = mid;
    }
    return hi;
  });
}

/** A parsed eth_getLogs filter. */
export interface LogQuery {
  criteria: LogCriteria;
  fromBlock: BlockTag;
  toBlock: BlockTag;
  blockHash: Uint8Array | null;
}

export function parseLogQuery(obj: Record<string, unknown>): LogQuery {
  const blockHash = field(obj, "blockHash", (v) => parseFixedData(v, 32)) ?? null;
  const fromBlock = field(obj, "fromBlock", parseBlockTag);
  const toBlock = field(obj, "toBlock", parseBlockTag);
  if (blockHash && (fromBlock !== undefined || toBlock !== undefined)) {
    paramFail("cannot specify both blockHash and fromBlock/toBlock");
  }
  return {
    criteria: parseLogCriteria(obj),
    fromBlock: fromBlock ?? "latest",
    toBlock: toBlock ?? "latest",
    blockHash,
  };
}

/**
 * eth_getLogs: refuse ranges wider than getLogsMaxBlockRange and results above getLogsMaxResults, in geth's words
 * ("exceed maximum block range: N", "query returned more than N results"); blocks whose logs bloom rules the
 * criteria out are skipped without reading their receipts.
 */
export async function getLogs(ctx: CallContext, q: LogQuery): Promise<Json[]> {
  const out: Json[] = [];
  const max = ctx.opts.getLogsMaxResults;
  if (q.blockHash) {
    const block = await ctx.backend.getBlock(q.blockHash, false);
    if (!block) throw new RpcError("RPC_NOT_FOUND", "unknown block");
    await scanBlock(ctx, q.criteria, block, out, max + 1);
  } else {
    const head = headNumber(ctx);
    const from = resolveBlockNumber(ctx, q.fromBlock);
    const toAsked = resolveBlockNumber(ctx, q.toBlock);
    // Two numbers the wrong way round are a client's mistake, whatever the head; a range that starts past the
    // head and ends at a tag (a poller asking for blocks after the last one it saw) has no logs yet.
    if (from > toAsked && (typeof q.toBlock === "number" || from <= head)) {
      throw new RpcError(
        "RPC_INVALID_PARAMS",
        `invalid block range params: fromBlock ${from} is after toBlock ${toAsked}`,
      );
    }
    // A numbered end past the head would be answered without the blocks still to come, and a client moving its
    // cursor to that end would never see them: refused as geth does. A tag ends at the head.
    if (typeof q.toBlock === "number" && toAsked > head) {
      throw new RpcError("RPC_INVALID_PARAMS", "block range extends beyond current head block");
    }
    const to = Math.min(toAsked, head);
    if (from > to) return [];
    if (to - from + 1 > ctx.opts.getLogsMaxBlockRange) {
      throw new RpcError(
        "RPC_LIMIT_EXCEEDED",
        `exceed maximum block range: ${ctx.opts.getLogsMaxBlockRange} (asked for ${to - from + 1} blocks, ${from}..${to})`,
      );
    }
    for (let n = from; n <= to && out.length <= max; n++) {
      const block = await ctx.backend.getBlock(n, false);
      if (block) await scanBlock(ctx, q.criteria, block, out, max + 1);
    }
  }
  if (out.length > max) {
    throw new RpcError(
      "RPC_LIMIT_EXCEEDED",
      `query returned more than ${max} results: narrow the block range or filter`,
    );
  }
  return out;
}

async function scanBlock(ctx: CallContext, c: LogCriteria, block: RpcBlock, out: Json[], max: number) {
  if (block.transactionHashes.length === 0 || !bloomMayMatch(c, block.logsBloom)) return;
  const receipts = await ctx.backend.getBlockReceipts(block.header.number);
  blockLogs(c, block, receipts, out, max);
}

/** Resolve eth_getLogs-style tags of a stored filter ({fromBlock, toBlock} as given). */
export function filterTag(v: unknown): BlockTag {
  return v === undefined || v === null ? "latest" : parseBlockTag(v);
}

export interface WaitResult {
  receipt: Receipt;
  block: RpcBlock;
  index: number;
}

interface Waiter {
  resolve: (r: WaitResult | null) => void;
  timer: NodeJS.Timeout;
  /** The caller's quota key. */
  owner: string;
}

/**
 * Bounded set of callers waiting for a transaction's receipt (FISCO sendTransaction returns the receipt): `max` in
 * all and `perOwnerMax` per principal (anonymous: per IP), so that one client's sends behind a nonce gap cannot
 * take every other client's synchronous sends down with theirs.
 */
export class ReceiptWaiters {
  private readonly waiters = new Map<string, Waiter[]>();
  private readonly perOwner = new Map<string, number>();
  private count = 0;

  constructor(
    private readonly max: number,
    private readonly perOwnerMax = max,
  ) {}

  /** Resolve with the receipt when a block commits `hash`, or null after `timeoutMs` / on cancel(). */
  wait(
    hash: Hash,
    timeoutMs: number,
    owner = "anonymous",
  ): { promise: Promise<WaitResult | null>; cancel: () => void } {
    if (this.count >= this.max) {
      throw new RpcError("RPC_LIMIT_EXCEEDED", `too many clients waiting for receipts (max ${this.max})`);
    }
    if ((this.perOwner.get(owner) ?? 0) >= this.perOwnerMax) {
      throw new RpcError(
        "RPC_LIMIT_EXCEEDED",
        `too many transactions of this principal waiting for receipts (max ${this.perOwnerMax})`,
      );
    }
    const key = bytesToHex(hash);
    let w!: Waiter;
    const promise = new Promise<WaitResult | null>((resolve) => {
      w = {
        owner,
        resolve,
        timer: setTimeout(() => {
          this.drop(key, w);
          resolve(null);
        }, timeoutMs),
      };
    });
    const list = this.waiters.get(key) ?? [];
    list.push(w);
    this.waiters.set(key, list);
    this.count++;
    this.perOwner.set(owner, (this.perOwner.get(owner) ?? 0) + 1);
    const cancel = () => {
      clearTimeout(w.timer);
      this.drop(key, w);
      w.resolve(null);
    };
    return { promise, cancel };
  }

  onBlock(block: RpcBlock, receipts: Receipt[]): void {
    if (this.count === 0) return;
    block.transactionHashes.forEach((h, index) => {
      const key = bytesToHex(h);
      const list = this.waiters.get(key);
      const receipt = receipts[index];
      if (!list || !receipt) return;
      this.waiters.delete(key);
      this.count -= list.length;
      for (const w of list) {
        clearTimeout(w.timer);
        this.release(w.owner);
        w.resolve({ receipt, block, index });
      }
    });
  }

  /** Resolve every waiter with null (server stopping). */
  close(): void {
    for (const list of this.waiters.values()) {
      for (const w of list) {
        clearTimeout(w.timer);
        w.resolve(null);
      }
    }
    this.waiters.clear();
    this.perOwner.clear();
    this.count = 0;
  }

  private drop(key: string, w: Waiter): void {
    const list = this.waiters.get(key);
    if (!list) return;
    const i = list.indexOf(w);
    if (i >= 0) {
      list.splice(i, 1);
      this.count--;
      this.release(w.owner);
    }
    if (list.length === 0) this.waiters.delete(key);
  }

  private release(owner: string): void {
    const n = (this.perOwner.get(owner) ?? 1) - 1;
    if (n > 0) this.perOwner.set(owner, n);
    else this.perOwner.delete(owner);
  }
}

export { parseUint };
