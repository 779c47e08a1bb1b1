import type { InterpreterStep } from "@ethereumjs/evm";
import { Address as EthAddress } from "@ethereumjs/util";
import { hexToBytes } from "../../util/hex.js";
import type { BlockEnv } from "../evmEnv.js";
import { stepAccount, stepSlot } from "./touched.js";
import { hex, quantity, type ResultTracer, Subscriptions, type TopCall } from "./tracer.js";

interface AccountPre {
  balance: bigint;
  nonce: bigint;
  code: Uint8Array;
  storage: Map<string, string>;
}

/**
 * geth's prestateTracer (default mode, not diffMode): the state of every account the message touched, as it was
 * before the message: `{<address>: {balance, nonce?, code?, storage?}}`. Values are read at first touch, before
 * anything in the message can have changed them (the sender before its nonce increment).
 */
export class PrestateTracer implements ResultTracer {
  private readonly subs = new Subscriptions();
  private readonly accounts = new Map<string, Promise<AccountPre>>();
  private env: BlockEnv | null = null;
  private done: Record<string, unknown> = {};

  async attach(env: BlockEnv, top: TopCall): Promise<void> {
    this.env = env;
    await this.touch(hex(top.from));
    if (top.to !== null) await this.touch(hex(top.to));
    this.subs.on<InterpreterStep>(env, "step", async (step) => {
      const account = stepAccount(step);
      if (account !== null) await this.touch(account);
      const slot = stepSlot(step);
      if (slot !== null) {
        const pre = await this.touch(step.address.toString());
        if (!pre.storage.has(slot)) {
          const value = await env.sm.getStorage(step.address, Buffer.from(slot, "hex"));
          pre.storage.set(slot, Buffer.from(value).toString("hex").padStart(64, "0"));
        }
      }
    });
  }

  private touch(address: string): Promise<AccountPre> {
    let pre = this.accounts.get(address);
    if (pre === undefined) {
      pre = this.read(address);
      this.accounts.set(address, pre);
    }
    return pre;
  }

  private async read(address: string): Promise<AccountPre> {
    const sm = this.env!.sm;
    const a = new EthAddress(hexToBytes(address));
    const account = await sm.getAccount(a);
    const code = account === undefined ? new Uint8Array(0) : await sm.getCode(a);
    return { balance: account?.balance ?? 0n, nonce: account?.nonce ?? 0n, code, storage: new Map() };
  }

  async finish(): Promise<void> {
    this.subs.clear();
    const out: Record<string, unknown> = {};
    for (const [address, p] of this.accounts) {
      const pre = await p;
      const entry: Record<string, unknown> = { balance: quantity(pre.balance) };
      if (pre.nonce > 0n) entry.nonce = Number(pre.nonce);
      if (pre.code.length > 0) entry.code = hex(pre.code);
      if (pre.storage.size > 0) {
        entry.storage = Object.fromEntries([...pre.storage].map(([k, v]) => [`0x${k}`, `0x${v}`]));
      }
      out[address] = entry;
    }
    this.done = out;
  }

  result(): unknown {
    return this.done;
  }
}
