import type { Hash } from "../types/index.js";
import { bytesEqual, bytesToHex } from "../util/hex.js";
import type { Logger } from "../util/logger.js";

/** Peers reported as running another genesis at most (each once; a consortium is small). */
const NAMED_PEERS_MAX = 256;

/**
 * Tells sync answers from peers on another chain apart from bad answers. A member given another genesis.json
 * serves a valid chain whose every block fails ours: without this check each side blamed and banned the other for
 * "invalid blocks" and no log said why. Sync answers carry the server's genesis hash (empty from a node that does not
 * send it: taken as ours). Such a peer is not misbehaving, and its head and blocks are not ours to follow: the
 * caller ignores it without penalty, and the operator is told once per peer which genesis each side has.
 */
export class OtherGenesisPeers {
  private readonly named = new Set<string>();

  constructor(
    private readonly ourGenesis: () => Hash,
    private readonly logger: Logger,
  ) {}

  /** Whether `peerGenesis` (from the peer's answer) is this chain's; logs a peer on another chain the first time. */
  onOurChain(peerKey: string, peerGenesis: Uint8Array): boolean {
    if (peerGenesis.length === 0) return true;
    const ours = this.ourGenesis();
    if (bytesEqual(peerGenesis, ours)) return true;
    if (this.named.size < NAMED_PEERS_MAX && !this.named.has(peerKey)) {
      this.named.add(peerKey);
      this.logger.error(
        { peer: peerKey, peerGenesis: bytesToHex(peerGenesis), ourGenesis: bytesToHex(ours) },
        "peer runs a chain with another genesis: one of the two nodes was given the wrong genesis.json " +
          "(if every peer differs, it is this node's: replace it and delete the data directory); ignoring its blocks",
      );
    }
    return false;
  }
}
