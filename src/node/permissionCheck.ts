import type { Chain } from "../chain/index.js";
import { governance } from "../execution/index.js";
import type { Transaction } from "../types/index.js";
import { bytesToHex } from "../util/hex.js";

/** Cached governance reads per committed head: plenty for a block's worth of admissions, bounded. */
const CACHE_KEYS_MAX = 10_000;

/**
 * The pool's admission check of on-chain permissions (the same rules execution applies, on the committed head):
 * frozen or abolished sender; for a deployment the deploy ACL; for a function call the target's status and method
 * ACL (the signer is msg.sender of a top-level call). Returns the refusal naming the rule, or null. Execution checks again,
 * so a stale answer can only delay a refusal, never let a refused tx through.
 */
export function permissionCheck(chain: Chain): (tx: Transaction) => Promise<string | null> {
  const cache = new Map<string, Uint8Array | null>();
  let cachedHead = "";
  const get = async (key: string): Promise<Uint8Array | null> => {
    const head = bytesToHex(chain.head().hash);
    if (head !== cachedHead || cache.size >= CACHE_KEYS_MAX) {
      cache.clear();
      cachedHead = head;
    }
    const hit = cache.get(key);
    if (hit !== undefined) return hit;
    const value = (await chain.ledger.getState(new Uint8Array(Buffer.from(key, "hex")))) ?? null;
    if (bytesToHex(chain.head().hash) === cachedHead) cache.set(key, value);
    return value;
  };
  return async (tx) => {
    const sender = await governance.senderRefusal(get, tx.sender);
    if (sender !== null) return sender;
    if (tx.to === null) return governance.deployRefusal(get, tx.sender);
    // A call without a selector (a plain transfer) skips the contract reads here: execution still checks them.
    return tx.input.length < 4 ? null : governance.callRefusal(get, tx.to, tx.sender, tx.input);
  };
}
