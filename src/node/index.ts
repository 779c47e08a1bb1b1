export { ConsortNode, type ConsortNodeDeps, FATAL_EXIT_CODE } from "./node.js";
export { CLIENT_VERSION, NodeRpcBackend } from "./rpcBackend.js";
