import type { ProtocolName, TopicName } from "./interface.js";

/**
 * The gossipsub topic string of a topic name on a chain. Version 2: frames name their direct recipients
 * (gossipFrame.ts); a node of the /1 frame would misread them, so the two do not share a topic.
 */
export function topicId(chainId: bigint, name: TopicName): string {
  return `/consort/${chainId}/${name}/2`;
}

/** The libp2p protocol ID of a request/response protocol on a chain. */
export function protocolId(chainId: bigint, name: ProtocolName): string {
  return `/consort/${chainId}/${name}/1`;
}

/** The protocol that carries point-to-point (sendDirect) messages. */
export function directProtocolId(chainId: bigint): string {
  return `/consort/${chainId}/direct/1`;
}
