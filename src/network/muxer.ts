import { yamux } from "@chainsafe/libp2p-yamux";
import type { StreamMuxer, StreamMuxerFactory } from "@libp2p/interface";

/** Yamux wire constants (the yamux spec: frame type and flags in every 12-byte header). */
const FRAME_TYPE_WINDOW_UPDATE = 1;
/** Withheld credit is tracked per stream; beyond this many entries those of closed streams are dropped. */
const HELD_STREAMS_PRUNE_AT = 256;
/** The initial yamux stream window (256 KiB, the least @chainsafe/libp2p-yamux accepts); credit is sent at half. */
export const WINDOW_UPDATE_BYTES_MIN = 128 * 1024;

interface FrameHeader {
  type: number;
  flag: number;
  streamID: number;
  length: number;
}

/** What the wrapper needs of @chainsafe/libp2p-yamux's muxer (8.0): its frame writer and its open streams. */
interface YamuxInternals {
  sendFrame(header: FrameHeader, data?: unknown): boolean;
  streams: { streamId?: number }[];
}

/** Counts for TransportStats. */
export interface WindowUpdateCounters {
  windowUpdatesSent: number;
  windowUpdatesWithheld: number;
}

/**
 * yamux whose streams return receive-window credit in batches of at least WINDOW_UPDATE_BYTES_MIN, as go- and
 * rust-yamux do. @chainsafe/libp2p-yamux 8.0 sends a WINDOW_UPDATE frame after every data frame it receives: each
 * gossip RPC cost a second frame back (noise-encrypted, written, read, decrypted), as many frames as the messages
 * themselves.
 *
 * Safe because credit is only delayed, never lost, and the delay is bounded: a stream's withheld credit stays below
 * half the 256 KiB initial window, so the sender always has at least the other half to send in; once the withheld
 * credit reaches WINDOW_UPDATE_BYTES_MIN (which a sender that ran out of window always causes) it goes out, summed.
 * The receiving stream has already counted the credit as given: it only ever accepts more than the sender uses.
 * Updates with flags (SYN, ACK, FIN, RST) go out at once, carrying any withheld credit.
 *
 * The muxer's `sendFrame` is an internal of @chainsafe/libp2p-yamux (each stream binds it when created); when it is
 * missing the muxer is left as it is. Pinned: package.json names @chainsafe/libp2p-yamux 8.0.1 exactly (no ^) while
 * this file exists, so that an upgrade is a deliberate change that reruns test/network/muxer.test.ts.
 */
export function coalescingYamux(counters: WindowUpdateCounters): () => StreamMuxerFactory {
  const createFactory = yamux();
  return () => {
    const factory: StreamMuxerFactory = createFactory();
    const create = factory.createStreamMuxer.bind(factory);
    factory.createStreamMuxer = (maConn) => coalesceWindowUpdates(create(maConn), counters);
    return factory;
  };
}

/** Wraps one muxer (exported for tests). */
export function coalesceWindowUpdates(muxer: StreamMuxer, counters: WindowUpdateCounters): StreamMuxer {
  const internals = muxer as unknown as Partial<YamuxInternals>;
  if (typeof internals.sendFrame !== "function" || !Array.isArray(internals.streams)) return muxer;
  const send = internals.sendFrame.bind(muxer);
  /** Credit not yet sent, by stream ID. */
  const held = new Map<number, number>();
  internals.sendFrame = (header, data) => {
    if (header.type !== FRAME_TYPE_WINDOW_UPDATE) return send(header, data);
    const credit = (held.get(header.streamID) ?? 0) + header.length;
    if (header.flag === 0 && credit < WINDOW_UPDATE_BYTES_MIN) {
      held.set(header.streamID, credit);
      counters.windowUpdatesWithheld++;
      if (held.size > HELD_STREAMS_PRUNE_AT) pruneClosed(held, internals.streams ?? []);
      return true;
    }
    held.delete(header.streamID);
    counters.windowUpdatesSent++;
    return send({ ...header, length: credit }, data);
  };
  return muxer;
}

/** Drops the withheld credit of streams that are gone (their IDs are never reused on a connection). */
function pruneClosed(held: Map<number, number>, streams: { streamId?: number }[]): void {
  const open = new Set(streams.map((s) => s.streamId));
  for (const id of held.keys()) if (!open.has(id)) held.delete(id);
}
