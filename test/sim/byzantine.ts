/**
 * Byzantine behaviours. A Byzantine node runs the real driver like everyone else; what it does wrong happens to
 * its messages on their way out (silence, bad signatures, conflicting votes, equivocating proposals), to what it
 * re-sends (replay, equivocate) and in what it injects (garbage). "invalidBlock" lives in its chain (simChain.ts).
 */
import {
  commitDigest,
  encodePbftMessage,
  messageDigest,
  type PbftMessage,
} from "../../src/consensus/index.js";
import { encodeToyBlock, toyBlockHash } from "./block.js";
import type { SimNode } from "./host.js";
import type { NetWorld, SimNetwork } from "./network.js";
import { sha256 } from "./simCrypto.js";

type Out = [SimNode, Uint8Array][];

/** What `nd` puts on the wire for `msg` (its honest encoding `data`) to each of `targets`. */
export function byzantineOutput(
  w: NetWorld,
  nd: SimNode,
  targets: SimNode[],
  msg: PbftMessage,
  data: Uint8Array,
): Out {
  const honest = targets.map((t): [SimNode, Uint8Array] => [t, data]);
  if (!nd.byz || !sameBytes(msg.sender, nd.nodeId)) return nd.byz === "silent" ? [] : honest;
  switch (nd.byz) {
    case "silent":
      return [];
    case "badSignatures": {
      const bad = encodePbftMessage({ ...msg, signature: flipped(msg.signature) });
      return targets.map((t) => [t, bad]);
    }
    case "conflictingVotes":
      return splitVotes(w, nd, targets, msg, data, () => sha256(Uint8Array.of(w.rng.int(0, 255), 7)));
    case "equivocate":
      return equivocate(w, nd, targets, msg, data);
    case "replay":
    case "invalidBlock":
    case "garbage":
      return honest;
    default: {
      const never: never = nd.byz;
      return never;
    }
  }
}

/** Half the targets get the real vote, the other half a validly signed one for another block. */
function splitVotes(
  w: NetWorld,
  nd: SimNode,
  targets: SimNode[],
  msg: PbftMessage,
  data: Uint8Array,
  other: () => Uint8Array,
): Out {
  if (msg.type !== "prepare" && msg.type !== "commit") return targets.map((t) => [t, data]);
  const alt = encodePbftMessage(signAs(nd, { ...msg, blockHash: other() }));
  return targets.map((t) => [t, w.rng.chance(0.5) ? data : alt]);
}

/** The leader signs two blocks for one (height, view) and votes for both; it re-sends them later too. */
function equivocate(w: NetWorld, nd: SimNode, targets: SimNode[], msg: PbftMessage, data: Uint8Array): Out {
  if (msg.type !== "prePrepare") {
    const alt = nd.equivocations.get(`${msg.height}/${msg.type === "viewChange" ? msg.toView : msg.view}`);
    return alt ? splitVotes(w, nd, targets, msg, data, () => alt) : targets.map((t) => [t, data]);
  }
  const payload = encodeToyBlock({
    height: msg.height,
    parentHash: msg.payload.slice(8, 40),
    proposer: nd.index,
    nonce: w.rng.u32(),
    valid: true,
  });
  const altHash = toyBlockHash(payload);
  nd.equivocations.set(`${msg.height}/${msg.view}`, altHash);
  const alt = encodePbftMessage(signAs(nd, { ...msg, payload, blockHash: altHash }));
  nd.ownProposals.push(data, alt);
  if (nd.ownProposals.length > 8) nd.ownProposals.splice(0, 2);
  return targets.map((t) => [t, w.rng.chance(0.5) ? data : alt]);
}

function signAs(nd: SimNode, msg: PbftMessage): PbftMessage {
  const digest =
    msg.type === "commit"
      ? commitDigest(sha256, msg.height, msg.view, msg.blockHash)
      : messageDigest(sha256, msg);
  return { ...msg, signature: nd.key.sign(digest) };
}

/**
 * Validly signed messages with absurd or malformed fields, and forged ViewChange/NewView proofs, as wire bytes;
 * what the codec refuses to encode goes out as random bytes (the driver's decoder must refuse them).
 */
function garbage(w: NetWorld, nd: SimNode): Uint8Array {
  const r = w.rng;
  const height = r.pick([0, nd.height, nd.height + 1, nd.height + 2, 2 ** 40, -1, 1.5]);
  const view = r.pick([0, 1, 2, 100, 2 ** 31, -3]);
  const hash = sha256(Uint8Array.of(r.int(0, 255)));
  const forgedVc = {
    type: "viewChange" as const,
    height,
    toView: view,
    prepared: null,
    sender: r.pick(w.nodes).nodeId,
    signature: hash,
  };
  const base = { height, view, blockHash: hash, sender: nd.nodeId, signature: new Uint8Array(32) };
  const candidates: PbftMessage[] = [
    { type: "prePrepare", ...base, payload: hash },
    { type: "prepare", ...base },
    { type: "commit", ...base },
    {
      type: "viewChange",
      height,
      toView: view,
      prepared: {
        height,
        view: 0,
        blockHash: hash,
        payload: hash,
        prepares: [{ nodeId: nd.nodeId, signature: hash }],
      },
      sender: nd.nodeId,
      signature: hash,
    },
    {
      type: "newView",
      height,
      view,
      viewChanges: [forgedVc, forgedVc, forgedVc],
      sender: nd.nodeId,
      signature: hash,
    },
  ];
  let msg = r.pick(candidates);
  const signable = msg.type === "prePrepare" || msg.type === "prepare" || msg.type === "commit";
  if (signable && Number.isSafeInteger(height) && height >= 0 && Number.isSafeInteger(view) && view >= 0)
    msg = signAs(nd, msg);
  try {
    return encodePbftMessage(msg);
  } catch {
    return Uint8Array.from({ length: r.int(0, 64) }, () => r.int(0, 255));
  }
}

/** Each tick: garbage nodes inject, replayers re-send old messages of anyone, equivocators their proposals. */
export function byzantineTick(w: NetWorld, net: SimNetwork, nd: SimNode): void {
  if (nd.byz === "garbage" && nd.host && w.rng.chance(0.3)) {
    const target = w.rng.pick(w.nodes);
    if (target !== nd) {
      const bytes = garbage(w, nd);
      w.at(w.now + 1, () => net.deliver(nd, target, bytes));
    }
    return;
  }
  const pool = nd.byz === "replay" ? nd.seen : nd.byz === "equivocate" ? nd.ownProposals : null;
  if (!pool || pool.length === 0 || !w.rng.chance(0.2)) return;
  const target = w.rng.pick(w.nodes);
  if (target !== nd) net.transmit(nd, target, w.rng.pick(pool));
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function flipped(sig: Uint8Array): Uint8Array {
  const out = new Uint8Array(sig);
  out[0] = (out[0]! ^ 0xff) & 0xff;
  return out;
}
