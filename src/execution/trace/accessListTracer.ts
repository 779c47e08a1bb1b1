import type { InterpreterStep } from "@ethereumjs/evm";
import type { Address, Hash } from "../../types/index.js";
import { hexToBytes } from "../../util/hex.js";
import type { BlockEnv } from "../evmEnv.js";
import { stepAccount, stepSlot } from "./touched.js";
import type { EvmTracer } from "./tracer.js";
import { hex, Subscriptions, type TopCall } from "./tracer.js";

/**
 * eth_createAccessList's tracer (geth's accessListTracer): the accounts and storage slots the message touched,
 * without the sender, the recipient and the precompiles (warm anyway). Slots of the recipient are kept.
 */
export class AccessListTracer implements EvmTracer {
  private readonly subs = new Subscriptions();
  private readonly list = new Map<string, Set<string>>();
  private readonly excluded = new Set<string>();

  attach(env: BlockEnv, top: TopCall): void {
    this.excluded.add(hex(top.from));
    for (const p of env.precompileAddresses) this.excluded.add(`0x${p.toLowerCase()}`);
    this.subs.on<InterpreterStep>(env, "step", (step) => {
      const account = stepAccount(step);
      if (account !== null) this.add(account);
      const slot = stepSlot(step);
      if (slot !== null) this.add(step.address.toString()).add(`0x${slot}`);
    });
    // The recipient is warm: listed only when its slots are (geth keeps it out of the list otherwise).
    if (top.to !== null) this.recipient = hex(top.to);
  }

  private recipient: string | null = null;

  private add(address: string): Set<string> {
    let slots = this.list.get(address);
    if (slots === undefined) {
      slots = new Set();
      this.list.set(address, slots);
    }
    return slots;
  }

  finish(): void {
    this.subs.clear();
  }

  /** The list in first-touch order. */
  accessList(): { address: Address; storageKeys: Hash[] }[] {
    const out: { address: Address; storageKeys: Hash[] }[] = [];
    for (const [address, slots] of this.list) {
      if (this.excluded.has(address)) continue;
      if (address === this.recipient && slots.size === 0) continue;
      out.push({ address: hexToBytes(address), storageKeys: [...slots].map((s) => hexToBytes(s)) });
    }
    return out;
  }
}
