export { ConsortNode } from "./node.js";
export { CLIENT_VERSION, NodeRpcBackend } from "./rpcBackend.js";
