import { assetBytecode } from "./asset.js";
import {
  assetDeployData,
  benchSender,
  erc20TransferData,
  randomAddress,
  type Sender,
  type SignedTx,
  senderFromKey,
  signLegacyTx,
  signNativeTx,
} from "./ethTx.js";
import { BlockWatcher, type LoadResult, runLoad } from "./load.js";
import { hexToNumber, RpcCallError, RpcClient } from "./rpc.js";
import type { RunningTarget } from "./targets.js";

export const WORKLOADS = ["transfer", "erc20", "native"] as const;
export type Workload = (typeof WORKLOADS)[number];

const SENDER_FUNDING = 10n ** 21n; // 1,000 coins each: fees on anvil/ganache for thousands of txs
const TOKEN_SUPPLY = 10n ** 30n;

/**
 * One target's bench session: a block watcher, S fresh funded senders (funded from the target's dev account in a
 * setup phase, not measured), the deployed Asset token once an erc20 workload asked for it.
 */
/** The ERC20 transfers' gas limit unless `--erc20-gas` says otherwise (~2x what one costs). */
export const ERC20_GAS_LIMIT_DEFAULT = 100_000;

export class BenchSession {
  readonly watcher: BlockWatcher;
  readonly senders: Sender[];
  readonly funder: Sender;
  private readonly client: RpcClient;
  private gasPrice = 0n;
  private token: string | null = null;
  readonly setupResults: LoadResult[] = [];

  constructor(
    readonly target: RunningTarget,
    senderCount: number,
    readonly concurrency: number,
    private readonly progress: boolean,
    private readonly erc20GasLimit: number | "estimate" = ERC20_GAS_LIMIT_DEFAULT,
  ) {
    this.watcher = new BlockWatcher(target.watchUrl);
    this.client = new RpcClient(target.submitUrls[0]!, 4);
    const seed = `${target.name}-${Date.now()}-${Math.random()}`;
    this.senders = Array.from({ length: senderCount }, (_, i) => benchSender(seed, i));
    this.funder = senderFromKey(target.funderKey);
  }

  async open(): Promise<void> {
    await this.watcher.start();
    const gp = BigInt(await this.client.call<string>("eth_gasPrice"));
    // Peers price gas (anvil's base fee moves with load): pay well above the current price so no tx waits for fees.
    this.gasPrice = gp * 4n;
    const nonce = await this.nonceOf(this.funder.address);
    const txs = this.senders.map((s, i) =>
      signLegacyTx(
        {
          chainId: this.target.chainId,
          nonce: nonce + BigInt(i),
          gasPrice: this.gasPrice,
          gasLimit: 21_000n,
          to: s.address,
          value: SENDER_FUNDING,
          data: "0x",
        },
        this.funder.privateKey,
      ),
    );
    await this.setup("fund senders", txs);
  }

  async close(): Promise<void> {
    await this.watcher.stop();
    this.client.close();
  }

  /** Pre-signs n transactions of `workload` (the setup it needs — token deploy and distribution — happens here). */
  async prepare(workload: Workload, n: number): Promise<SignedTx[]> {
    switch (workload) {
      case "transfer": {
        const nonces = await this.senderNonces();
        return Array.from({ length: n }, (_, i) => {
          const s = i % this.senders.length;
          return signLegacyTx(
            {
              chainId: this.target.chainId,
              nonce: nonces[s]! + BigInt(Math.floor(i / this.senders.length)),
              gasPrice: this.gasPrice,
              gasLimit: 21_000n,
              to: randomAddress(),
              value: 1n,
              data: "0x",
            },
            this.senders[s]!.privateKey,
            s,
          );
        });
      }
      case "erc20": {
        const token = await this.deployToken();
        const nonces = await this.senderNonces();
        const gasLimit = await this.erc20Gas(token);
        return Array.from({ length: n }, (_, i) => {
          const s = i % this.senders.length;
          return signLegacyTx(
            {
              chainId: this.target.chainId,
              nonce: nonces[s]! + BigInt(Math.floor(i / this.senders.length)),
              gasPrice: this.gasPrice,
              gasLimit,
              to: token,
              value: 0n,
              data: erc20TransferData(randomAddress(), 1n),
            },
            this.senders[s]!.privateKey,
            s,
          );
        });
      }
      case "native": {
        if (!this.target.supportsNative) throw new Error(`${this.target.name} has no native transactions`);
        const height = hexToNumber(await this.client.call<string>("eth_blockNumber"));
        return Array.from({ length: n }, () =>
          signNativeTx(
            {
              chainId: this.target.chainId,
              groupId: "group0",
              blockLimit: height + 500,
              to: randomAddress(),
              value: 1n,
              data: "0x",
              gasLimit: 100_000n,
            },
            this.target.nativeSenderKey,
          ),
        );
      }
    }
  }

  /**
   * The ERC20 transfers' gas limit: fixed, or what the target estimates for one transfer to a fresh address (every
   * transfer of the run costs the same: a funded sender, a fresh recipient), as ethers, viem and web3.js fill it in.
   */
  private async erc20Gas(token: string): Promise<bigint> {
    if (this.erc20GasLimit !== "estimate") return BigInt(this.erc20GasLimit);
    const estimate = await this.client.call<string>("eth_estimateGas", [
      { from: this.senders[0]!.address, to: token, data: erc20TransferData(randomAddress(), 1n) },
    ]);
    process.stderr.write(
      `  ${this.target.name}: ERC20 transfer gas limit ${BigInt(estimate)} (eth_estimateGas)\n`,
    );
    return BigInt(estimate);
  }

  private async deployToken(): Promise<string> {
    if (this.token) return this.token;
    const nonce = await this.nonceOf(this.funder.address);
    const deploy = signLegacyTx(
      {
        chainId: this.target.chainId,
        nonce,
        gasPrice: this.gasPrice,
        gasLimit: 1_000_000n,
        to: null,
        value: 0n,
        data: assetDeployData(assetBytecode(), "Bench", "BNCH", TOKEN_SUPPLY),
      },
      this.funder.privateKey,
    );
    await this.setup("deploy token", [deploy]);
    const receipt = await this.client.call<{ contractAddress: string | null; status: string } | null>(
      "eth_getTransactionReceipt",
      [deploy.hash],
    );
    if (!receipt?.contractAddress || receipt.status !== "0x1") {
      throw new Error(`token deploy failed on ${this.target.name}: ${JSON.stringify(receipt)}`);
    }
    const token = receipt.contractAddress;
    const share = TOKEN_SUPPLY / BigInt(this.senders.length * 2);
    const txs = this.senders.map((s, i) =>
      signLegacyTx(
        {
          chainId: this.target.chainId,
          nonce: nonce + 1n + BigInt(i),
          gasPrice: this.gasPrice,
          gasLimit: 100_000n,
          to: token,
          value: 0n,
          data: erc20TransferData(s.address, share),
        },
        this.funder.privateKey,
      ),
    );
    await this.setup("distribute token", txs);
    this.token = token;
    return token;
  }

  /** n txs of `workload` sent as the measured ones will be (all endpoints, full concurrency), not measured. */
  async warmUp(workload: Workload, n: number): Promise<void> {
    await this.setup(`warm-up ${workload}`, await this.prepare(workload, n), { asMeasured: true });
  }

  /**
   * Sends `txs` unmeasured and requires all committed: through the first endpoint at up to 16 in flight, or
   * `asMeasured` (a warm-up) through every endpoint at the run's concurrency.
   */
  private async setup(label: string, txs: SignedTx[], opts: { asMeasured?: boolean } = {}): Promise<void> {
    const r = await runLoad({
      label: `${this.target.name}: ${label}`,
      submitUrls: opts.asMeasured ? this.target.submitUrls : this.target.submitUrls.slice(0, 1),
      watcher: this.watcher,
      txs,
      concurrency: opts.asMeasured ? this.concurrency : Math.min(this.concurrency, 16),
      progress: false,
      stallTimeoutMs: 60_000,
      receiptSample: 0,
      kick: this.target.kick,
    });
    this.setupResults.push(r);
    if (r.committed !== txs.length) {
      throw new Error(
        `${this.target.name}: setup "${label}" committed ${r.committed}/${txs.length} (errors ${JSON.stringify(r.errors)})`,
      );
    }
  }

  private async nonceOf(address: string): Promise<bigint> {
    return BigInt(await this.client.call<string>("eth_getTransactionCount", [address, "pending"]));
  }

  private async senderNonces(): Promise<bigint[]> {
    const out: bigint[] = [];
    for (let i = 0; i < this.senders.length; i += 100) {
      const chunk = this.senders.slice(i, i + 100);
      const res = await this.client.batch<string>(
        chunk.map((s) => ({ method: "eth_getTransactionCount", params: [s.address, "pending"] })),
      );
      for (const r of res) {
        if (r instanceof RpcCallError) throw r;
        out.push(BigInt(r));
      }
    }
    return out;
  }

  get showProgress(): boolean {
    return this.progress;
  }
}
