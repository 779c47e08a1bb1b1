import { keccak_256 } from "@noble/hashes/sha3.js";
import { AbiCoder, Transaction as EthersTx, id as ethersId, SigningKey, Wallet } from "ethers";
import { merkleProof, merkleRoot } from "../../src/crypto/index.js";
import { receiptLeaf } from "../../src/ledger/index.js";
import { RpcError } from "../../src/rpc/errors.js";
import { orBlooms } from "../../src/rpc/ethFormat.js";
import type {
  RpcAccessListResult,
  RpcBackend,
  RpcBlock,
  RpcCallRequest,
  RpcCallResult,
  RpcNewBlockEvent,
  RpcReceiptLookup,
  RpcStateBlock,
  RpcTxLookup,
} from "../../src/rpc/interface.js";
import { TxPoolError } from "../../src/txpool/errors.js";
import type {
  AccessListItem,
  Address,
  EthereumTx,
  Hash,
  Log,
  NativeTx,
  Receipt,
  Transaction,
  ValidatorInfo,
} from "../../src/types/index.js";
import { ReceiptStatus, TxType } from "../../src/types/index.js";
import { bytesToHex, hexToBytes } from "../../src/util/hex.js";

/**
 * In-memory RpcBackend over real data types: Ethereum transactions signed by ethers and decoded back into our
 * Transaction type, receipts with real blooms, blocks with real block blooms. `mine()` seals the pool into a block
 * and emits the events the real node emits.
 */

export const CHAIN_ID = 20200n;
export const GROUP_ID = "group0";
export const PRIVATE_KEY = `0x${"11".repeat(32)}`;
export const wallet = new Wallet(PRIVATE_KEY);
export const SENDER = hexToBytes(wallet.address);
/** eth_call to this address reverts with Error("not enough tokens"). */
export const REVERT_ADDRESS = hexToBytes(`0x${"ee".repeat(20)}`);
/** eth_call to this address reverts with a custom error Unauthorized(address). */
export const CUSTOM_ERROR_ADDRESS = hexToBytes(`0x${"ef".repeat(20)}`);
/** eth_call to this address needs ESTIMATE_NEEDED gas to succeed. */
export const TOKEN_ADDRESS = hexToBytes(`0x${"77".repeat(20)}`);
export const ESTIMATE_NEEDED = 51_234n;
export const TRANSFER_TOPIC = hexToBytes(ethersId("Transfer(address,address,uint256)"));
export const BLOCK_GAS_LIMIT = 30_000_000n;

const abi = AbiCoder.defaultAbiCoder();

export function errorStringData(reason: string): Uint8Array {
  return hexToBytes(`0x08c379a0${abi.encode(["string"], [reason]).slice(2)}`);
}

function bloomAdd(bloom: Uint8Array, value: Uint8Array): void {
  const h = keccak_256(value);
  for (let i = 0; i < 6; i += 2) {
    const bit = ((h[i]! << 8) | h[i + 1]!) & 0x7ff;
    bloom[255 - (bit >> 3)]! |= 1 << (bit & 7);
  }
}

export function logsBloom(logs: Log[]): Uint8Array {
  const bloom = new Uint8Array(256);
  for (const l of logs) {
    bloomAdd(bloom, l.address);
    for (const t of l.topics) bloomAdd(bloom, t);
  }
  return bloom;
}

function toAccessList(list: { address: string; storageKeys: string[] }[] | null): AccessListItem[] {
  return (list ?? []).map((i) => ({
    address: hexToBytes(i.address),
    storageKeys: i.storageKeys.map((k) => hexToBytes(k)),
  }));
}

/** Decode a signed Ethereum raw transaction (via ethers) into our Transaction type. */
export function decodeEthTx(raw: Uint8Array): EthereumTx {
  const t = EthersTx.from(bytesToHex(raw));
  if (!t.signature || !t.from) throw new RpcError("RPC_INVALID_TRANSACTION", "invalid sender");
  const common = {
    raw,
    hash: keccak_256(raw),
    sender: hexToBytes(t.from),
    chainId: t.chainId,
    to: t.to ? hexToBytes(t.to) : null,
    value: t.value,
    input: hexToBytes(t.data),
    gasLimit: t.gasLimit,
    r: BigInt(t.signature.r),
    s: BigInt(t.signature.s),
    nonce: BigInt(t.nonce),
  };
  if (t.type === 0)
    return {
      ...common,
      type: TxType.Legacy,
      gasPrice: t.gasPrice ?? 0n,
      v: t.signature.networkV ?? BigInt(t.signature.v),
    };
  if (t.type === 1) {
    return {
      ...common,
      type: TxType.AccessList,
      gasPrice: t.gasPrice ?? 0n,
      accessList: toAccessList(t.accessList),
      v: BigInt(t.signature.yParity),
    };
  }
  if (t.type === 2) {
    return {
      ...common,
      type: TxType.FeeMarket,
      maxFeePerGas: t.maxFeePerGas ?? 0n,
      maxPriorityFeePerGas: t.maxPriorityFeePerGas ?? 0n,
      accessList: toAccessList(t.accessList),
      v: BigInt(t.signature.yParity),
    };
  }
  throw new RpcError("RPC_INVALID_TRANSACTION", `transaction type not supported: ${t.type}`);
}

/** A native (0x7c) transaction: the raw bytes are a stand-in, the signature is real over keccak256(raw). */
export function makeNativeTx(nonceByte: number, to: Address | null, input: Uint8Array): NativeTx {
  const raw = new Uint8Array([0x7c, nonceByte, ...input]);
  const hash = keccak_256(raw);
  const sig = new SigningKey(PRIVATE_KEY).sign(hash);
  return {
    type: TxType.Native,
    raw,
    hash,
    sender: SENDER,
    chainId: CHAIN_ID,
    to,
    value: 0n,
    input,
    gasLimit: 3_000_000n,
    gasPrice: 0n,
    v: BigInt(sig.yParity),
    r: BigInt(sig.r),
    s: BigInt(sig.s),
    groupId: GROUP_ID,
    nonce: new Uint8Array([nonceByte, 0xaa, 0xbb]),
    blockLimit: 500,
  };
}

export async function signEth(fields: Record<string, unknown>): Promise<Uint8Array> {
  return hexToBytes(await wallet.signTransaction({ chainId: CHAIN_ID, ...fields }));
}

interface StoredBlock {
  block: RpcBlock;
  transactions: Transaction[];
  receipts: Receipt[];
}

const nodeId = (b: number) => new Uint8Array(32).fill(b);
export const SEALERS: ValidatorInfo[] = [1, 2, 3, 4].map((b) => ({ nodeId: nodeId(b), weight: 1 }));

export class FakeBackend implements RpcBackend {
  readonly chainId = CHAIN_ID;
  readonly groupId = GROUP_ID;
  readonly clientVersion = "consort/v0.1.0-test";
  readonly blocks: StoredBlock[] = [];
  readonly pool: Transaction[] = [];
  readonly nonces = new Map<string, bigint>();
  readonly balances = new Map<string, bigint>();
  readonly code = new Map<string, Uint8Array>();
  readonly storage = new Map<string, Uint8Array>();
  /** Receipt outcome to use for the next mined transactions, by tx hash hex. */
  readonly outcomes = new Map<string, { status: ReceiptStatus; logs: Log[]; output: Uint8Array }>();
  private readonly blockListeners = new Set<(ev: RpcNewBlockEvent) => void>();
  private readonly pendingListeners = new Set<(hashes: Hash[]) => void>();
  /** Calls made to backend.call, for assertions. */
  callCount = 0;

  constructor() {
    this.balances.set(bytesToHex(SENDER), 10n ** 21n);
    this.code.set(bytesToHex(TOKEN_ADDRESS), hexToBytes("0x6080604052"));
    this.seal([]); // genesis
  }

  /** Build the standard fixture chain: blocks 1..3 with every tx type, logs, a create and a failed tx. */
  static async withChain(): Promise<FakeBackend> {
    const b = new FakeBackend();
    const to = hexToBytes(`0x${"22".repeat(20)}`);
    const t1 = decodeEthTx(
      await signEth({
        type: 0,
        nonce: 0,
        to: bytesToHex(TOKEN_ADDRESS),
        gasLimit: 100_000n,
        gasPrice: 0n,
        data: "0xa9059cbb",
      }),
    );
    const t2 = decodeEthTx(
      await signEth({
        type: 2,
        nonce: 1,
        to: bytesToHex(to),
        value: 5n,
        gasLimit: 21_000n,
        maxFeePerGas: 0n,
        maxPriorityFeePerGas: 0n,
      }),
    );
    const transfer: Log = {
      address: TOKEN_ADDRESS,
      topics: [TRANSFER_TOPIC, new Uint8Array(32).fill(0x01), new Uint8Array(32).fill(0x02)],
      data: hexToBytes(`0x${"00".repeat(31)}07`),
    };
    b.outcomes.set(bytesToHex(t1.hash), {
      status: ReceiptStatus.Success,
      logs: [transfer, transfer],
      output: new Uint8Array(0),
    });
    b.seal([t1, t2]);
    const t3 = decodeEthTx(
      await signEth({
        type: 1,
        nonce: 2,
        to: bytesToHex(to),
        gasLimit: 30_000n,
        gasPrice: 0n,
        accessList: [{ address: bytesToHex(to), storageKeys: [`0x${"00".repeat(32)}`] }],
      }),
    );
    const t4 = makeNativeTx(1, TOKEN_ADDRESS, hexToBytes("0xa9059cbb"));
    const t5 = decodeEthTx(
      await signEth({
        type: 2,
        nonce: 3,
        to: null,
        gasLimit: 500_000n,
        maxFeePerGas: 0n,
        maxPriorityFeePerGas: 0n,
        data: "0x6080604052",
      }),
    );
    b.outcomes.set(bytesToHex(t4.hash), {
      status: ReceiptStatus.Success,
      logs: [transfer],
      output: new Uint8Array(0),
    });
    b.seal([t3, t4, t5]);
    const t6 = decodeEthTx(
      await signEth({
        type: 2,
        nonce: 4,
        to: bytesToHex(REVERT_ADDRESS),
        gasLimit: 50_000n,
        maxFeePerGas: 0n,
        maxPriorityFeePerGas: 0n,
      }),
    );
    b.outcomes.set(bytesToHex(t6.hash), {
      status: ReceiptStatus.Failed,
      logs: [],
      output: errorStringData("not enough tokens"),
    });
    b.seal([t6]);
    b.nonces.set(bytesToHex(SENDER), 5n);
    return b;
  }

  /** Commit `txs` as the next block and emit onNewBlock. */
  seal(txs: Transaction[]): RpcBlock {
    const number = this.blocks.length;
    const receipts: Receipt[] = [];
    let cumulative = 0n;
    for (const tx of txs) {
      const o = this.outcomes.get(bytesToHex(tx.hash)) ?? {
        status: ReceiptStatus.Success,
        logs: [],
        output: new Uint8Array(0),
      };
      const gasUsed = tx.gasLimit < 21_000n ? tx.gasLimit : 21_000n;
      cumulative += gasUsed;
      receipts.push({
        txHash: tx.hash,
        status: o.status,
        gasUsed,
        cumulativeGasUsed: cumulative,
        logs: o.logs,
        contractAddress: tx.to === null ? keccak_256(tx.hash).subarray(12) : null,
        output: o.output,
        logsBloom: logsBloom(o.logs),
      });
    }
    const parentHash = number === 0 ? new Uint8Array(32) : this.blocks[number - 1]!.block.hash;
    const header = {
      chainId: CHAIN_ID,
      groupId: GROUP_ID,
      number,
      parentHash,
      timestampMs: 1_700_000_000_000 + number * 1500 + 123,
      txRoot: keccak_256(new Uint8Array([1, number])),
      receiptRoot: keccak_256(new Uint8Array([2, number])),
      stateRoot: keccak_256(new Uint8Array([3, number])),
      gasUsed: cumulative,
      proposer: SEALERS[number % SEALERS.length]!.nodeId,
      view: 0,
    };
    const hash = keccak_256(new TextEncoder().encode(`block ${number} ${bytesToHex(parentHash)}`));
    const block: RpcBlock = {
      header,
      hash,
      transactionHashes: txs.map((t) => t.hash),
      transactions: txs,
      logsBloom: orBlooms(receipts.map((r) => r.logsBloom)),
      sizeBytes: 500 + txs.reduce((n, t) => n + t.raw.length, 0),
      certificate: {
        height: number,
        view: 0,
        blockHash: hash,
        signatures: SEALERS.slice(0, 3).map((s) => ({
          nodeId: s.nodeId,
          signature: new Uint8Array(64).fill(9),
        })),
      },
    };
    this.blocks.push({ block, transactions: txs, receipts });
    for (const tx of txs) {
      const i = this.pool.findIndex((p) => bytesToHex(p.hash) === bytesToHex(tx.hash));
      if (i >= 0) this.pool.splice(i, 1);
    }
    for (const l of this.blockListeners) l({ block, receipts });
    return block;
  }

  /** Seal everything in the pool. */
  mine(): RpcBlock {
    return this.seal(this.pool.splice(0));
  }

  headNumber(): number {
    return this.blocks.length - 1;
  }

  private find(ref: number | Hash): StoredBlock | undefined {
    if (typeof ref === "number") return this.blocks[ref];
    const h = bytesToHex(ref);
    return this.blocks.find((b) => bytesToHex(b.block.hash) === h);
  }

  async getBlock(ref: number | Hash, withTransactions: boolean): Promise<RpcBlock | null> {
    const b = this.find(ref);
    if (!b) return null;
    return { ...b.block, transactions: withTransactions ? b.transactions : null };
  }

  private locate(hash: Hash): { stored: StoredBlock; index: number } | null {
    const h = bytesToHex(hash);
    for (const stored of this.blocks) {
      const index = stored.transactions.findIndex((t) => bytesToHex(t.hash) === h);
      if (index >= 0) return { stored, index };
    }
    return null;
  }

  async getTransaction(hash: Hash): Promise<RpcTxLookup | null> {
    const found = this.locate(hash);
    if (found) {
      const { stored, index } = found;
      return {
        tx: stored.transactions[index]!,
        location: {
          blockNumber: stored.block.header.number,
          blockHash: stored.block.hash,
          index,
          timestampMs: stored.block.header.timestampMs,
        },
      };
    }
    const pending = this.pool.find((t) => bytesToHex(t.hash) === bytesToHex(hash));
    return pending ? { tx: pending, location: null } : null;
  }

  async getReceipt(hash: Hash): Promise<RpcReceiptLookup | null> {
    const found = this.locate(hash);
    if (!found) return null;
    const { stored, index } = found;
    return {
      receipt: stored.receipts[index]!,
      tx: stored.transactions[index]!,
      location: {
        blockNumber: stored.block.header.number,
        blockHash: stored.block.hash,
        index,
        timestampMs: stored.block.header.timestampMs,
      },
    };
  }

  async getBlockReceipts(blockNumber: number): Promise<Receipt[]> {
    return this.blocks[blockNumber]?.receipts ?? [];
  }

  /** Proofs as the real ledger returns them (byte fields as Uint8Array): the RPC layer must hex them. */
  async getTransactionProof(hash: Hash): Promise<unknown | null> {
    const found = this.locate(hash);
    if (!found) return null;
    const leaves = found.stored.transactions.map((t) => t.hash);
    return this.proof(found, leaves);
  }

  async getReceiptProof(hash: Hash): Promise<unknown | null> {
    const found = this.locate(hash);
    if (!found) return null;
    return this.proof(found, found.stored.receipts.map(receiptLeaf));
  }

  private proof(found: { stored: StoredBlock; index: number }, leaves: Uint8Array[]) {
    return {
      blockNumber: found.stored.block.header.number,
      blockHash: found.stored.block.hash,
      index: found.index,
      leaf: leaves[found.index]!,
      root: merkleRoot(leaves),
      proof: merkleProof(leaves, found.index),
    };
  }

  /** Refuses like the node's pool: TxPoolError codes and geth's wording (see src/txpool/admission.ts). */
  async sendRawTransaction(raw: Uint8Array): Promise<Hash> {
    let tx: EthereumTx;
    try {
      tx = decodeEthTx(raw);
    } catch (err) {
      throw new TxPoolError("TXPOOL_INVALID", `invalid transaction: ${(err as Error).message.slice(0, 100)}`);
    }
    if (tx.chainId !== CHAIN_ID) {
      throw new TxPoolError("TXPOOL_INVALID", "invalid sender: invalid chain id for signer");
    }
    const hashHex = bytesToHex(tx.hash);
    if (this.pool.some((t) => bytesToHex(t.hash) === hashHex) || this.locate(tx.hash)) {
      throw new TxPoolError("TXPOOL_ALREADY_KNOWN", "already known");
    }
    const next = this.nonces.get(bytesToHex(tx.sender)) ?? 0n;
    if (tx.nonce < next) {
      throw new TxPoolError(
        "TXPOOL_NONCE_TOO_LOW",
        `nonce too low: next nonce ${next}, tx nonce ${tx.nonce}`,
      );
    }
    this.pool.push(tx);
    this.nonces.set(bytesToHex(tx.sender), tx.nonce + 1n);
    for (const l of this.pendingListeners) l([tx.hash]);
    return tx.hash;
  }

  async call(request: RpcCallRequest, block: RpcStateBlock): Promise<RpcCallResult> {
    this.callCount++;
    this.checkStateBlock(block);
    // Like the node: the limit the call ran with is reported, and `error` names the EVM error (null on success).
    const gasLimit = request.gasLimit ?? BLOCK_GAS_LIMIT;
    const to = request.to ? bytesToHex(request.to) : null;
    if (to === bytesToHex(REVERT_ADDRESS)) {
      return {
        status: ReceiptStatus.Failed,
        output: errorStringData("not enough tokens"),
        gasUsed: 30_000n,
        error: "revert",
        gasLimit,
      };
    }
    if (to === bytesToHex(CUSTOM_ERROR_ADDRESS)) {
      // Unauthorized(address) custom error
      const data = hexToBytes(
        `${ethersId("Unauthorized(address)").slice(0, 10)}${abi.encode(["address"], [wallet.address]).slice(2)}`,
      );
      return { status: ReceiptStatus.Failed, output: data, gasUsed: 25_000n, error: "revert", gasLimit };
    }
    if (to === bytesToHex(TOKEN_ADDRESS)) {
      if (gasLimit < ESTIMATE_NEEDED) {
        return {
          status: ReceiptStatus.Failed,
          output: new Uint8Array(0),
          gasUsed: gasLimit,
          error: "out of gas",
          gasLimit,
        };
      }
      // Like a real EVM with a refund: gasUsed below what must be provided.
      return {
        status: ReceiptStatus.Success,
        output: hexToBytes(abi.encode(["uint256"], [42])),
        gasUsed: ESTIMATE_NEEDED - 5000n,
        error: null,
        gasLimit,
      };
    }
    return {
      status: ReceiptStatus.Success,
      output: new Uint8Array(0),
      gasUsed: 21_000n,
      error: null,
      gasLimit,
    };
  }

  /** A block above the head has no state: the node answers RPC_NOT_FOUND "header not found". */
  private checkStateBlock(block: RpcStateBlock): void {
    if (typeof block === "number" && block > this.headNumber()) {
      throw new RpcError("RPC_NOT_FOUND", "header not found");
    }
  }

  async getBalance(address: Address, block: RpcStateBlock): Promise<bigint> {
    this.checkStateBlock(block);
    return this.balances.get(bytesToHex(address)) ?? 0n;
  }

  async getNonce(address: Address, block: RpcStateBlock): Promise<bigint> {
    this.checkStateBlock(block);
    const n = this.nonces.get(bytesToHex(address)) ?? 0n;
    if (block === "pending") return n;
    const pending = this.pool.filter(
      (t) => t.type !== TxType.Native && bytesToHex(t.sender) === bytesToHex(address),
    ).length;
    if (typeof block === "number" && block < 1) return 0n;
    return n - BigInt(pending);
  }

  async getCode(address: Address, block: RpcStateBlock): Promise<Uint8Array> {
    this.checkStateBlock(block);
    return this.code.get(bytesToHex(address)) ?? new Uint8Array(0);
  }

  async getStorageAt(address: Address, slot: Uint8Array, block: RpcStateBlock): Promise<Uint8Array> {
    this.checkStateBlock(block);
    return this.storage.get(`${bytesToHex(address)}:${bytesToHex(slot)}`) ?? new Uint8Array(32);
  }

  gasPrice(): bigint {
    return 0n;
  }

  blockGasLimit(): bigint {
    return BLOCK_GAS_LIMIT;
  }

  pendingCount(): number {
    return this.pool.length;
  }

  totalTransactionCount() {
    let transactionCount = 0;
    let failedTransactionCount = 0;
    for (const b of this.blocks) {
      transactionCount += b.transactions.length;
      failedTransactionCount += b.receipts.filter((r) => r.status === ReceiptStatus.Failed).length;
    }
    return { transactionCount, failedTransactionCount };
  }

  sealers(): ValidatorInfo[] {
    return SEALERS;
  }

  observers() {
    return [nodeId(9)];
  }

  async getSystemConfig(key: string) {
    const table: Record<string, string> = { tx_count_limit: "1000", tx_gas_limit: "300000000" };
    return table[key] === undefined ? null : { value: table[key]!, enableNumber: 0 };
  }

  consensusStatus() {
    return { view: 7, leader: SEALERS[1]!.nodeId, height: this.headNumber(), nodeIndex: 0 };
  }

  syncStatus() {
    const head = this.headNumber();
    return { syncing: false, startingBlock: 0, currentBlock: head, highestBlock: head };
  }

  peers() {
    return SEALERS.slice(1).map((s, i) => ({
      nodeId: s.nodeId,
      peerId: `12D3KooFake${i}`,
      address: `/ip4/127.0.0.1/tcp/${30301 + i}`,
    }));
  }

  nodeInfo() {
    return { nodeId: SEALERS[0]!.nodeId, role: "sealer", version: "v0.1.0-test" };
  }

  onNewBlock(listener: (event: RpcNewBlockEvent) => void): () => void {
    this.blockListeners.add(listener);
    return () => this.blockListeners.delete(listener);
  }

  onPendingTransactions(listener: (hashes: Hash[]) => void): () => void {
    this.pendingListeners.add(listener);
    return () => this.pendingListeners.delete(listener);
  }

  // The fake keeps no EVM: history and tracing are exercised against real nodes (test/node/trace.test.ts).
  async sealersAt(): Promise<ValidatorInfo[]> {
    return SEALERS;
  }

  async traceTransaction(): Promise<unknown | null> {
    throw new RpcError("RPC_UNSUPPORTED", "the fake backend does not trace");
  }

  async traceBlock(): Promise<{ txHash: Hash; result: unknown }[] | null> {
    throw new RpcError("RPC_UNSUPPORTED", "the fake backend does not trace");
  }

  async traceCall(): Promise<unknown> {
    throw new RpcError("RPC_UNSUPPORTED", "the fake backend does not trace");
  }

  async createAccessList(): Promise<RpcAccessListResult> {
    throw new RpcError("RPC_UNSUPPORTED", "the fake backend does not trace");
  }

  get listenerCount(): number {
    return this.blockListeners.size + this.pendingListeners.size;
  }
}
