import { bytesToHex } from "../util/hex.js";
import { type CallContext, type MethodImpl, method } from "./context.js";
import { RpcError } from "./errors.js";
import { ethMethods } from "./ethMethods.js";
import { checkGroup, group, nodeHex, nodeName } from "./fiscoMethods.js";
import { p } from "./params.js";

/**
 * FISCO BCOS 3.x group and node methods (getGroupList, getGroupInfo, getGroupInfoList, getGroupNodeInfo,
 * getNodeListByType, getGroupPeers) and the FISCO-named filter methods (newFilter, getFilterChanges, …: the
 * eth_* filters behind a groupId param). A Consort node serves one group and runs as one process (FISCO's "air"
 * deployment, node type 0).
 */

/** FISCO's GroupNodeInfo.type: 0 = air (one process per node). */
const NODE_TYPE_AIR = 0;
const NODE_LIST_TYPES = ["consensus_sealer", "consensus_observer", "consensus_candidate_sealer"] as const;

function groupNodeInfo(ctx: CallContext, nodeId: Uint8Array, self: boolean): Record<string, unknown> {
  const id = nodeHex(nodeId);
  const info = ctx.backend.nodeInfo();
  const iniConfig: Record<string, unknown> = {
    chainID: ctx.backend.chainId.toString(10),
    groupID: ctx.backend.groupId,
    nodeID: id,
    nodeName: id,
    isWasm: false,
    isAuthCheck: false,
    isSerialExecute: true,
    smCryptoType: false,
  };
  if (self) iniConfig.binaryInfo = { version: info.version };
  return { name: id, nodeID: id, type: NODE_TYPE_AIR, iniConfig, serviceInfo: [] };
}

async function groupInfo(ctx: CallContext): Promise<Record<string, unknown>> {
  const [genesis, genesisSealers] = await Promise.all([
    ctx.backend.getBlock(0, false),
    ctx.backend.sealersAt(0),
  ]);
  const self = ctx.backend.nodeInfo().nodeId;
  return {
    chainID: ctx.backend.chainId.toString(10),
    groupID: ctx.backend.groupId,
    genesisConfig: {
      consensusType: "pbft",
      genesisHash: genesis ? bytesToHex(genesis.hash) : null,
      sealerList: genesisSealers.map((s) => ({ nodeID: nodeHex(s.nodeId), weight: s.weight })),
    },
    nodeList: [
      groupNodeInfo(ctx, self, true),
      ...ctx.backend.peers().map((peer) => groupNodeInfo(ctx, peer.nodeId, false)),
    ],
  };
}

/** A FISCO-named alias of an eth_* method: [groupId, ...the eth params]. */
function groupAlias(ethName: string): MethodImpl {
  const def = (ethMethods as Record<string, MethodImpl>)[ethName];
  if (def === undefined) throw new Error(`no eth method ${ethName}`);
  return {
    params: [group(), ...def.params],
    handler: (args, ctx) => {
      checkGroup(ctx, args[0] as string);
      return def.handler(args.slice(1), ctx);
    },
  };
}

export const fiscoGroupMethods = {
  getGroupList: method([] as const, (_a, ctx) => ({
    code: 0,
    msg: "success",
    groupList: [ctx.backend.groupId],
  })),
  getGroupInfo: method([group()] as const, async ([g], ctx) => {
    checkGroup(ctx, g);
    return groupInfo(ctx);
  }),
  getGroupInfoList: method([] as const, async (_a, ctx) => [await groupInfo(ctx)]),
  getGroupNodeInfo: method([group(), nodeName()] as const, ([g, name], ctx) => {
    checkGroup(ctx, g);
    const self = ctx.backend.nodeInfo().nodeId;
    if (name === undefined || name === "" || name.replace(/^0x/, "") === nodeHex(self)) {
      return groupNodeInfo(ctx, self, true);
    }
    const peer = ctx.backend.peers().find((x) => nodeHex(x.nodeId) === name.replace(/^0x/, ""));
    if (!peer) throw new RpcError("RPC_NOT_FOUND", `node ${name.slice(0, 140)} is not known in ${g}`);
    return groupNodeInfo(ctx, peer.nodeId, false);
  }),
  getNodeListByType: method([group(), nodeName(), p.string("type", 64)] as const, ([g, , type], ctx) => {
    checkGroup(ctx, g);
    switch (type) {
      case "consensus_sealer":
        return ctx.backend.sealers().map((s) => ({ nodeID: nodeHex(s.nodeId), weight: s.weight, type }));
      case "consensus_observer":
        return ctx.backend.observers().map((o) => ({ nodeID: nodeHex(o), weight: 0, type }));
      case "consensus_candidate_sealer":
        return []; // sealers join directly through the node list contract: no candidates
      default:
        throw new RpcError(
          "RPC_INVALID_PARAMS",
          `unknown node type "${type}": use ${NODE_LIST_TYPES.join(", ")}`,
        );
    }
  }),
  getGroupPeers: method([group()] as const, ([g], ctx) => {
    checkGroup(ctx, g);
    return ctx.backend.peers().map((peer) => nodeHex(peer.nodeId));
  }),
  newFilter: groupAlias("eth_newFilter"),
  newBlockFilter: groupAlias("eth_newBlockFilter"),
  newPendingTransactionFilter: groupAlias("eth_newPendingTransactionFilter"),
  getFilterChanges: groupAlias("eth_getFilterChanges"),
  getFilterLogs: groupAlias("eth_getFilterLogs"),
  uninstallFilter: groupAlias("eth_uninstallFilter"),
  getLogs: groupAlias("eth_getLogs"),
};
