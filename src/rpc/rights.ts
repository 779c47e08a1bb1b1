import type { MethodDef, MethodImpl } from "./context.js";
import type { debugMethods } from "./debugMethods.js";
import type { ethMethods } from "./ethMethods.js";
import type { fiscoGroupMethods } from "./fiscoGroupMethods.js";
import type { fiscoMethods } from "./fiscoMethods.js";
import type { governanceMethods } from "./governanceMethods.js";

/**
 * What a caller may do. Every method belongs to exactly one right:
 * - `read`: queries, calls, filters, subscriptions (nothing that changes the chain or reveals the node's internals);
 * - `submit`: send transactions;
 * - `admin`: node and pool introspection, anything that reveals or changes node state.
 * A principal holds any subset (a submitter usually holds read and submit).
 */
export type Right = "read" | "submit" | "admin";

export const ALL_RIGHTS: readonly Right[] = ["read", "submit", "admin"];

export function isRight(v: unknown): v is Right {
  return v === "read" || v === "submit" || v === "admin";
}

/**
 * Give every method of a table its right. `rights` must name every key of `impls` (a method added to a table
 * without a right here fails typecheck) and nothing else.
 */
export function withRights<T extends Record<string, MethodImpl>>(
  impls: T,
  rights: { readonly [K in keyof T]: Right },
): Record<string, MethodDef> {
  const out: Record<string, MethodDef> = {};
  for (const [name, impl] of Object.entries(impls)) {
    out[name] = { ...impl, right: rights[name as keyof T] };
  }
  return out;
}

/** Rights of the Ethereum methods (docs/rpc.md shows this table). */
export const ETH_RIGHTS: { readonly [K in keyof typeof ethMethods]: Right } = {
  eth_chainId: "read",
  net_version: "read",
  net_listening: "read",
  // Reveals how the node is connected: node introspection.
  net_peerCount: "admin",
  web3_clientVersion: "read",
  web3_sha3: "read",
  eth_accounts: "read",
  eth_syncing: "read",
  eth_mining: "read",
  eth_hashrate: "read",
  eth_blockNumber: "read",
  eth_getBlockByNumber: "read",
  eth_getBlockByHash: "read",
  eth_getBlockTransactionCountByNumber: "read",
  eth_getBlockTransactionCountByHash: "read",
  eth_getUncleCountByBlockNumber: "read",
  eth_getUncleCountByBlockHash: "read",
  eth_getTransactionByHash: "read",
  eth_getTransactionByBlockNumberAndIndex: "read",
  eth_getTransactionByBlockHashAndIndex: "read",
  eth_getTransactionReceipt: "read",
  eth_getBlockReceipts: "read",
  eth_getTransactionCount: "read",
  eth_getBalance: "read",
  eth_getCode: "read",
  eth_getStorageAt: "read",
  eth_call: "read",
  eth_estimateGas: "read",
  eth_createAccessList: "read",
  eth_gasPrice: "read",
  eth_maxPriorityFeePerGas: "read",
  eth_feeHistory: "read",
  eth_sendRawTransaction: "submit",
  eth_sendRawTransactionSync: "submit",
  // The node holds no keys (these always fail), but they are sends in every client's eyes.
  eth_sendTransaction: "submit",
  eth_sign: "submit",
  eth_signTransaction: "submit",
  eth_signTypedData_v4: "submit",
  eth_getLogs: "read",
  eth_newFilter: "read",
  eth_newBlockFilter: "read",
  eth_newPendingTransactionFilter: "read",
  eth_getFilterChanges: "read",
  eth_getFilterLogs: "read",
  eth_uninstallFilter: "read",
  eth_subscribe: "read",
  eth_unsubscribe: "read",
};

/** Rights of the FISCO BCOS-style methods. */
export const FISCO_RIGHTS: { readonly [K in keyof typeof fiscoMethods]: Right } = {
  getBlockNumber: "read",
  getBlockByNumber: "read",
  getBlockByHash: "read",
  getBlockHashByNumber: "read",
  getTransaction: "read",
  getTransactionReceipt: "read",
  sendTransaction: "submit",
  call: "read",
  getCode: "read",
  getSealerList: "read",
  getObserverList: "read",
  getPbftView: "read",
  getConsensusStatus: "admin",
  getSyncStatus: "admin",
  getPeers: "admin",
  getPendingTxSize: "admin",
  getTotalTransactionCount: "read",
  getSystemConfigByKey: "read",
  getNodeInfo: "admin",
};

/** Rights of the governance reads (committee, proposals, ACLs, account status: all public chain state). */
export const GOVERNANCE_RIGHTS: { readonly [K in keyof typeof governanceMethods]: Right } = {
  getCommitteeInfo: "read",
  getProposalInfo: "read",
  getProposalList: "read",
  getDeployAuth: "read",
  getMethodAuth: "read",
  getAccountStatus: "read",
};

/** Rights of the FISCO group, node-list and filter methods (fiscoGroupMethods.ts). */
export const FISCO_GROUP_RIGHTS: { readonly [K in keyof typeof fiscoGroupMethods]: Right } = {
  getGroupList: "read",
  getGroupInfo: "read",
  getGroupInfoList: "read",
  // Like getNodeInfo and getPeers: how this node is connected is node introspection.
  getGroupNodeInfo: "admin",
  getNodeListByType: "read",
  getGroupPeers: "admin",
  newFilter: "read",
  newBlockFilter: "read",
  newPendingTransactionFilter: "read",
  getFilterChanges: "read",
  getFilterLogs: "read",
  uninstallFilter: "read",
  getLogs: "read",
};

/**
 * Rights of the debug_* tracers: traces show committed chain state and calls anyone with `read` may already make
 * (they are bounded like eth_call), so they need `read`, not `admin`.
 */
export const DEBUG_RIGHTS: { readonly [K in keyof typeof debugMethods]: Right } = {
  debug_traceTransaction: "read",
  debug_traceCall: "read",
  debug_traceBlockByNumber: "read",
  debug_traceBlockByHash: "read",
};
