import { describe, expect, it } from "vitest";
import {
  consensusGossipCheck,
  encodePbftMessage,
  type PbftMessage,
  prepareDigest,
} from "../../src/consensus/index.js";
import { keccak256, NodeKey, verifyNodeSignature } from "../../src/crypto/index.js";
import { bytesToHex } from "../../src/util/hex.js";

const validator = NodeKey.generate();
const observer = NodeKey.generate();
let committed = 10; // next height 11

const check = consensusGossipCheck(
  { futureHeightWindow: 8, pastHeightWindow: 1 },
  {
    view: {
      committedHeight: () => committed,
      isValidator: (id) => bytesToHex(id) === bytesToHex(validator.nodeId),
    },
    hash: keccak256,
    verify: verifyNodeSignature,
  },
);

function prepare(key: NodeKey, height: number, signer: NodeKey = key): Uint8Array {
  const blockHash = new Uint8Array(32).fill(7);
  const msg: PbftMessage = {
    type: "prepare",
    height,
    view: 0,
    blockHash,
    sender: key.nodeId,
    signature: signer.sign(prepareDigest(keccak256, height, 0, blockHash)),
  };
  return encodePbftMessage(msg);
}

const from = observer.nodeId;

describe("consensusGossipCheck", () => {
  it("accepts a validator's signed message within the height window", () => {
    for (const h of [10, 11, 19]) expect(check(from, prepare(validator, h)).verdict).toBe("accept");
  });

  it("rejects bytes that are not a PBFT message", () => {
    expect(check(from, Uint8Array.of(1, 2, 3))).toMatchObject({ verdict: "reject", reason: /malformed/ });
  });

  it("rejects a bad signature: signed by another key than its sender", () => {
    expect(check(from, prepare(validator, 11, observer))).toMatchObject({
      verdict: "reject",
      reason: "prepare with a bad signature at height 11",
    });
  });

  it("rejects a correctly signed message from a non-validator at our height", () => {
    expect(check(from, prepare(observer, 11))).toMatchObject({
      verdict: "reject",
      reason: "prepare from a non-validator at height 11",
    });
  });

  it("holds (delivers, never relays) a non-validator's message at another height: the set may change", () => {
    expect(check(from, prepare(observer, 12)).verdict).toBe("hold");
    expect(check(from, prepare(observer, 10)).verdict).toBe("hold");
  });

  it("holds (never relays) a validator's message far ahead: it only tells consensus we are behind", () => {
    expect(check(from, prepare(validator, 20))).toMatchObject({ verdict: "hold", reason: /too far ahead/ });
    expect(check(from, prepare(validator, 1000, observer)).verdict).toBe("reject"); // still signature-checked
  });

  it("ignores heights below the window, and follows the committed height", () => {
    expect(check(from, prepare(validator, 9)).verdict).toBe("ignore");
    committed = 11;
    expect(check(from, prepare(validator, 20)).verdict).toBe("accept");
    expect(check(from, prepare(validator, 9)).verdict).toBe("ignore");
    expect(check(from, prepare(observer, 12)).verdict).toBe("reject");
  });
});
