import type { Chain } from "../chain/index.js";
import { decodeSyncRequest, encodeSyncResponse, SYNC_BLOCKS_PER_RESPONSE_MAX } from "./wire.js";

/**
 * Serves a "blocks" request: our head, and for a blocks request the committed blocks from `fromHeight` on (as
 * stored, with their certificates), at most SYNC_BLOCKS_PER_RESPONSE_MAX and about `responseBytesMax` bytes (the
 * first block always goes, whatever its size).
 */
export async function serveBlocks(
  chain: Chain,
  reqBytes: Uint8Array,
  responseBytesMax: number,
): Promise<Uint8Array> {
  const req = decodeSyncRequest(reqBytes);
  const head = chain.head();
  const blocks: Uint8Array[] = [];
  if (req.kind === "blocks") {
    let bytes = 0;
    const last = Math.min(
      head.number,
      req.fromHeight + Math.min(req.countMax, SYNC_BLOCKS_PER_RESPONSE_MAX) - 1,
    );
    for (let h = req.fromHeight; h <= last; h++) {
      const block = await chain.blockBytes(h);
      if (!block) break;
      bytes += block.length;
      if (blocks.length > 0 && bytes > responseBytesMax) break;
      blocks.push(block);
    }
  }
  return encodeSyncResponse({
    headHeight: head.number,
    headHash: head.hash,
    blocks,
    genesisHash: chain.genesisHash(),
  });
}
