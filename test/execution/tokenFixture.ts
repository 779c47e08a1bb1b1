import { getCreateAddress, type Wallet } from "ethers";
import { type Abi, encodeDeployData, encodeFunctionData, type Hex } from "viem";
import type { GenesisSpec } from "../../src/execution/index.js";
import type { Address, Transaction } from "../../src/types/index.js";
import { hexToBytes } from "../../src/util/hex.js";
import { addr, assetArtifact, genesisSpec, signEth, wallets } from "./helpers.js";

/**
 * An Asset (ERC20) token on a committed state, for what executes blocks of token transfers one after another (the
 * state-cache tests, test/execution/throughput.ts, bench/storageReads.ts): deterministic wallets (the first, the
 * admin, is the only governor and deploys the token; the others hold it), the genesis that funds them, the setup
 * block (the deployment, then a grant to every holder) and signed transfers.
 */
export class TokenFixture {
  /** The admin, then the holders. */
  readonly users: Wallet[];
  readonly admin: Wallet;
  readonly holders: Wallet[];
  readonly abi: Abi;
  /** The admin's first deployment (nonce 0): the token the setup block deploys. */
  readonly token: Address;
  private readonly bytecode: Hex;

  /** `holderCount` holders and an admin, wallets of `seed` (see helpers.ts wallets). */
  constructor(holderCount: number, seed: number) {
    this.users = wallets(holderCount + 1, seed);
    this.admin = this.users[0]!;
    this.holders = this.users.slice(1);
    const asset = assetArtifact();
    this.abi = asset.abi as Abi;
    this.bytecode = asset.bytecode as Hex;
    this.token = hexToBytes(getCreateAddress({ from: this.admin.address, nonce: 0 }));
  }

  /** Genesis with the admin as the only governor and `balanceWei` for every wallet. */
  genesis(balanceWei: bigint): GenesisSpec {
    return genesisSpec(
      [addr(this.admin)],
      this.users.map((w) => ({ address: addr(w), balance: balanceWei })),
    );
  }

  /** The calldata of `transfer(to, amount)`. */
  transferData(to: Wallet, amount: bigint): Uint8Array {
    return hexToBytes(
      encodeFunctionData({ abi: this.abi, functionName: "transfer", args: [to.address as Hex, amount] }),
    );
  }

  /** `from` sends `amount` tokens to `to` (gas limit 100,000, ample for a transfer). */
  transfer(from: Wallet, nonce: number, to: Wallet, amount: bigint): Promise<Transaction> {
    return signEth(from, { to: this.token, nonce, gasLimit: 100_000n, data: this.transferData(to, amount) });
  }

  /** The first block's txs: the admin deploys the token (nonce 0), then grants `grant` to every holder (nonces 1…). */
  async setupBlock(grant: bigint): Promise<Transaction[]> {
    const deploy = encodeDeployData({ abi: this.abi, bytecode: this.bytecode, args: ["T", "T", 10n ** 30n] });
    const txs = [
      await signEth(this.admin, { to: null, nonce: 0, gasLimit: 3_000_000n, data: hexToBytes(deploy) }),
    ];
    for (const [i, holder] of this.holders.entries())
      txs.push(await this.transfer(this.admin, 1 + i, holder, grant));
    return txs;
  }

  /**
   * `count` blocks after the setup block, in which every holder pays once: in block b (nonce b) holder i pays
   * holder i + 1 + b + `shift` (a ring turned a step per block, so every balance a block writes is read by the
   * next) `amount(i, b)`.
   */
  async ringBlocks(
    count: number,
    shift = 0,
    amount: (holder: number, block: number) => bigint = () => 1n,
  ): Promise<Transaction[][]> {
    const blocks: Transaction[][] = [];
    const n = this.holders.length;
    for (let b = 0; b < count; b++) {
      const txs: Transaction[] = [];
      for (const [i, holder] of this.holders.entries())
        txs.push(await this.transfer(holder, b, this.holders[(i + 1 + b + shift) % n]!, amount(i, b)));
      blocks.push(txs);
    }
    return blocks;
  }
}
