import type { Chain } from "../chain/index.js";
import {
  AccessListTracer,
  type BlockContext,
  CallTracer,
  type Executor,
  gethErrorMessage,
  PrestateTracer,
  proposerCoinbase,
  type ResultTracer,
  readConsensusNodes,
  readSystemConfig,
  type StateReader,
  type StructLogBudget,
  StructLogger,
} from "../execution/index.js";
import type { RpcAccessListResult, RpcCallRequest, RpcTracerSpec } from "../rpc/index.js";
import type { Hash, ValidatorInfo } from "../types/index.js";
import { bytesToHex } from "../util/hex.js";

/** eth_createAccessList runs the call at most this often while the list grows (geth has no bound; lists converge fast). */
const ACCESS_LIST_ROUNDS_MAX = 16;

/** `budget`: shared by the tracers of one request (a block trace's transactions), bounding their struct logs together. */
export function makeTracer(spec: RpcTracerSpec, budget: StructLogBudget = { usedBytes: 0 }): ResultTracer {
  switch (spec.tracer) {
    case "structLogger":
      return new StructLogger(spec, spec.maxLogs, budget);
    case "callTracer":
      return new CallTracer({ onlyTopCall: spec.onlyTopCall });
    case "prestateTracer":
      return new PrestateTracer();
  }
}

export interface TraceDeps {
  chain: Chain;
  executor: Executor;
  /** The state right after block `n` (RPC_STATE_UNAVAILABLE outside the history window). */
  stateAfter(n: number): StateReader;
}

/**
 * The node's replays for debug_trace* and its historical reads: a committed block is re-executed on its parent's
 * state (kept for the last `stateHistoryBlocks` blocks) in the context it was made in.
 */
export class TraceBackend {
  constructor(private readonly deps: TraceDeps) {}

  private get ledger() {
    return this.deps.chain.ledger;
  }

  /** The sealers that signed block `n`: from the state after block n (changes made in n apply from n + 1). */
  async sealersAt(n: number): Promise<ValidatorInfo[]> {
    let state: StateReader;
    try {
      state = this.deps.stateAfter(n);
    } catch {
      // Outside the state history: the head's node list, whose entries keep their previous role (exact unless the
      // list changed twice since block n).
      state = this.ledger;
    }
    return (await readConsensusNodes(state, n)).sealers;
  }

  async traceTransaction(hash: Hash, spec: RpcTracerSpec): Promise<unknown | null> {
    const found = await this.ledger.getTransaction(hash);
    if (!found) return null;
    const results = await this.replay(found.blockNumber, [found.index], spec);
    return results?.[0]?.result ?? null;
  }

  async traceBlock(n: number, spec: RpcTracerSpec): Promise<{ txHash: Hash; result: unknown }[] | null> {
    const block = await this.ledger.getBlock(n, { withTransactions: true });
    if (!block) return null;
    return this.replay(
      n,
      block.transactions.map((_, i) => i),
      spec,
    );
  }

  private async replay(
    n: number,
    targets: number[],
    spec: RpcTracerSpec,
  ): Promise<{ txHash: Hash; result: unknown }[] | null> {
    const block = await this.ledger.getBlock(n, { withTransactions: true });
    const parent = n > 0 ? await this.ledger.getHeader(n - 1) : null;
    if (!block || !parent) return null;
    if (targets.length === 0) return [];
    const state = this.deps.stateAfter(n - 1);
    const header = block.header;
    const ctx: BlockContext = {
      number: header.number,
      timestampMs: header.timestampMs,
      coinbase: proposerCoinbase(header.proposer),
      chainId: this.deps.chain.genesis.chainId,
      groupId: this.deps.chain.genesis.groupId,
      // As chain.ts's blockContext: GASLIMIT is the block gas limit in force at the block; the proposers before the
      // block feed governance's quorum-safety check.
      gasLimit: (await readSystemConfig(state, n)).blockGasLimit,
      parentStateRoot: parent.stateRoot,
      getBlockHash: (k) => (k < n ? this.ledger.getBlockHash(k) : Promise.resolve(null)),
      recentProposers: (count: number) => this.deps.chain.proposersBefore(n, count),
    };
    const budget: StructLogBudget = { usedBytes: 0 };
    const results = await this.deps.executor.traceBlock(state, ctx, block.transactions, targets, () =>
      makeTracer(spec, budget),
    );
    return results.map((result, i) => ({ txHash: block.transactions[targets[i]!]!.hash, result }));
  }

  /**
   * geth's eth_createAccessList: run with the list found so far until a run touches nothing new; gasUsed and the
   * error are those of the last run (made with the final list).
   */
  async createAccessList(
    run: (
      req: RpcCallRequest,
      tracer: AccessListTracer,
    ) => Promise<{ gasUsed: bigint; error: string | null }>,
    request: RpcCallRequest,
  ): Promise<RpcAccessListResult> {
    let list = request.accessList ?? [];
    for (let round = 0; ; round++) {
      const tracer = new AccessListTracer();
      const res = await run({ ...request, accessList: list }, tracer);
      const next = tracer.accessList();
      if (sameList(list, next) || round + 1 >= ACCESS_LIST_ROUNDS_MAX) {
        return {
          accessList: next,
          gasUsed: res.gasUsed,
          error: res.error === null ? null : gethErrorMessage(res.error),
        };
      }
      list = next;
    }
  }
}

function listKey(list: { address: Uint8Array; storageKeys: Uint8Array[] }[]): string {
  return list
    .map((e) => `${bytesToHex(e.address)}:${e.storageKeys.map(bytesToHex).sort().join(",")}`)
    .sort()
    .join(";");
}

function sameList(
  a: { address: Uint8Array; storageKeys: Uint8Array[] }[],
  b: { address: Uint8Array; storageKeys: Uint8Array[] }[],
): boolean {
  return listKey(a) === listKey(b);
}
