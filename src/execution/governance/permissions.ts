import type { Message } from "@ethereumjs/evm";
import { encodeAbiParameters } from "viem/utils";
import type { Address } from "../../types/index.js";
import { bytesToHex, concatBytes, hexToBytes } from "../../util/hex.js";
import { aclRefusal, Status } from "./layout.js";
import {
  type KeyGetter,
  readAccountStatus,
  readContractStatus,
  readDeployAccess,
  readDeployMode,
  readMethodAccess,
  readMethodMode,
} from "./store.js";

/**
 * Permission checks in execution. Every refusal is an Error(string) revert that names the rule, so ethers, viem
 * and `consort gov` print it.
 *
 * Whose permission: `msg.sender` of the message, not `tx.origin`. For the top-level call both are the signer; for
 * a contract calling or creating, it is that contract. A tx.origin check (what FISCO did, issue 1792) lets any
 * contract act with its caller's rights (phishing) and refuses factories that an allowed account deploys for
 * everyone; msg.sender is also what Solidity's own access control uses.
 */

/** Why `deployer` may not create a contract now, or null. */
export async function deployRefusal(get: KeyGetter, deployer: Address): Promise<string | null> {
  const why = aclRefusal(await readDeployMode(get), await readDeployAccess(get, deployer));
  return why === null ? null : `deploy ACL: ${bytesToHex(deployer)} may not deploy contracts (${why})`;
}

/** Why `caller` may not call `contract` with `input` now (contract status, then the method ACL), or null. */
export async function callRefusal(
  get: KeyGetter,
  contract: Address,
  caller: Address,
  input: Uint8Array,
): Promise<string | null> {
  const status = await readContractStatus(get, contract);
  if (status !== Status.Normal) {
    return `contract status: ${bytesToHex(contract)} is ${status === Status.Frozen ? "frozen" : "abolished"}`;
  }
  if (input.length < 4) return null;
  const selector = input.subarray(0, 4);
  const mode = await readMethodMode(get, contract, selector);
  if (mode === 0) return null;
  const why = aclRefusal(mode, await readMethodAccess(get, contract, selector, caller));
  return why === null
    ? null
    : `method ACL: ${bytesToHex(caller)} may not call ${bytesToHex(selector)} on ${bytesToHex(contract)} (${why})`;
}

/** Why a transaction from `sender` is refused before execution (frozen or abolished account), or null. */
export async function senderRefusal(get: KeyGetter, sender: Address): Promise<string | null> {
  const status = await readAccountStatus(get, sender);
  if (status === Status.Normal) return null;
  return `account status: ${bytesToHex(sender)} is ${status === Status.Frozen ? "frozen" : "abolished"}, its transactions are refused`;
}

/**
 * EVM code that reverts with Error(reason): CODECOPY the revert data that follows the 15-byte prelude, REVERT.
 * Used as the code (or init code) of a refused message, so a refusal behaves exactly like a revert.
 */
export function revertCode(reason: string): Uint8Array {
  const data = hexToBytes(`0x08c379a0${encodeAbiParameters([{ type: "string" }], [reason]).slice(2)}`);
  const len = data.length;
  const prelude = new Uint8Array([
    0x61,
    len >> 8,
    len & 0xff, // PUSH2 len
    0x61,
    0x00,
    0x0f, // PUSH2 15 (offset of the data in the code)
    0x60,
    0x00, // PUSH1 0
    0x39, // CODECOPY
    0x61,
    len >> 8,
    len & 0xff, // PUSH2 len
    0x60,
    0x00, // PUSH1 0
    0xfd, // REVERT
  ]);
  return concatBytes(prelude, data);
}

/**
 * The EVM's beforeMessage hook: a refused CREATE gets init code that reverts, a refused CALL gets code that reverts
 * (set before the EVM loads the target's code). Precompiles (the system contracts) and delegate calls (the caller's
 * own context) are not checked.
 */
export function permissionHook(get: KeyGetter, isPrecompile: (a: Address) => boolean) {
  return async (m: Message): Promise<void> => {
    if (m.to === undefined) {
      const why = await deployRefusal(get, m.caller.bytes);
      if (why !== null) m.data = revertCode(why);
      return;
    }
    if (m.delegatecall || isPrecompile(m.to.bytes)) return;
    const why = await callRefusal(get, m.to.bytes, m.caller.bytes, m.data);
    if (why !== null) {
      m.code = revertCode(why);
      m.isCompiled = false;
    }
  };
}
