export {
  type GossipAction,
  GossipValidationError,
  NetworkError,
  type NetworkErrorCode,
} from "./errors.js";
export {
  type GossipCheck,
  type GossipCheckVerdict,
  type GossipHandler,
  type GossipValidator,
  type GossipVerdict,
  type PeerChangeHandler,
  PROTOCOL_NAMES,
  type ProtocolName,
  type RequestHandler,
  type RequestOptions,
  TOPIC_NAMES,
  type TopicName,
  type Transport,
} from "./interface.js";
export {
  Libp2pTransport,
  type Libp2pTransportDeps,
  type Libp2pTransportInit,
  type TransportStats,
} from "./libp2pTransport.js";
export { directProtocolId, protocolId, topicId } from "./names.js";
export {
  defaultLibp2pTransportOptions,
  type Libp2pTransportOptions,
  type NetworkKey,
  validateLibp2pTransportOptions,
} from "./options.js";
export { nodeIdToPeerId, peerIdStringToNodeId, peerIdToNodeId } from "./peerId.js";
