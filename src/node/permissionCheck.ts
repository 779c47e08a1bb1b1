import type { Chain } from "../chain/index.js";
import { governance } from "../execution/index.js";
import type { Transaction } from "../types/index.js";

/**
 * The pool's admission check of on-chain permissions (the same rules execution applies, on the committed head):
 * frozen or abolished sender; for a deployment the deploy ACL; for a function call the target's status and method
 * ACL (the signer is msg.sender of a top-level call). Returns the refusal naming the rule, or null. Execution checks again,
 * so a stale answer can only delay a refusal, never let a refused tx through.
 *
 * Reads go to the ledger's state at the head, which answers repeated keys (a sender's status, a token's method ACL)
 * from its committed-state cache; each commit updates it with the block's changes (src/ledger/stateReadCache.ts), so
 * a governance change committed at h is seen by the admissions that follow. Nothing executed but uncommitted counts.
 */
export function permissionCheck(chain: Chain): (tx: Transaction) => Promise<string | null> {
  const get = async (key: string): Promise<Uint8Array | null> =>
    (await chain.ledger.getState(new Uint8Array(Buffer.from(key, "hex")))) ?? null;
  return async (tx) => {
    const sender = await governance.senderRefusal(get, tx.sender);
    if (sender !== null) return sender;
    if (tx.to === null) return governance.deployRefusal(get, tx.sender);
    // A call without a selector (a plain transfer) skips the contract reads here: execution still checks them.
    return tx.input.length < 4 ? null : governance.callRefusal(get, tx.to, tx.sender, tx.input);
  };
}
