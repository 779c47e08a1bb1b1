import { describe, expect, it } from "vitest";
import { checkMessageShape } from "../../src/consensus/index.js";
import type { PbftMessage, ViewChange } from "../../src/consensus/pbft/core/types.js";

// checkMessageShape is the core's first look at peer data: each case names the field it must blame, and the byte
// bounds are checked at the bound and one past it.

const b = (n: number, fill = 1) => new Uint8Array(n).fill(fill);
const signed = { sender: b(32), signature: b(64) };
const prepare = { type: "prepare" as const, height: 1, view: 0, blockHash: b(32), ...signed };
const vc: ViewChange = { type: "viewChange", height: 1, toView: 1, prepared: null, ...signed };
const prepared = {
  height: 1,
  view: 0,
  blockHash: b(32),
  payload: b(4),
  prepares: [{ nodeId: b(32), signature: b(64) }],
};
const newView = { type: "newView" as const, height: 1, view: 1, viewChanges: [vc], ...signed };
const check = (m: unknown) => checkMessageShape(m as PbftMessage);

describe("checkMessageShape", () => {
  it("accepts well-formed messages of every type, at the byte bounds", () => {
    expect(check(prepare)).toBeNull();
    expect(check({ ...prepare, type: "commit" })).toBeNull();
    expect(check({ ...prepare, type: "prePrepare", payload: b(0) })).toBeNull();
    expect(check(vc)).toBeNull();
    expect(check({ ...vc, prepared })).toBeNull();
    expect(check({ ...vc, prepared: { ...prepared, prepares: [] } })).toBeNull();
    expect(check(newView)).toBeNull();
    expect(check({ ...newView, viewChanges: [] })).toBeNull();
    expect(check({ ...prepare, blockHash: b(64), sender: b(64), signature: b(128) })).toBeNull();
    expect(check({ ...prepare, height: 0, blockHash: b(1), sender: b(1), signature: b(1) })).toBeNull();
    expect(check({ ...newView, viewChanges: Array.from({ length: 1024 }, () => vc) })).toBeNull();
    const prepares1024 = Array.from({ length: 1024 }, () => prepared.prepares[0]);
    expect(check({ ...vc, prepared: { ...prepared, prepares: prepares1024 } })).toBeNull();
  });

  it.each([
    ["not an object", 5, "message"],
    ["null", null, "message"],
    ["a negative height", { ...prepare, height: -1 }, "height"],
    ["a fractional height", { ...prepare, height: 0.5 }, "height"],
    ["an unsafe height", { ...prepare, height: 2 ** 53 }, "height"],
    ["a string height", { ...prepare, height: "1" }, "height"],
    ["an empty sender", { ...prepare, sender: b(0) }, "sender"],
    ["a 65-byte sender", { ...prepare, sender: b(65) }, "sender"],
    ["a hex sender", { ...prepare, sender: "01" }, "sender"],
    ["an empty signature", { ...prepare, signature: b(0) }, "signature"],
    ["a 129-byte signature", { ...prepare, signature: b(129) }, "signature"],
    ["a negative view", { ...prepare, view: -1 }, "view/blockHash"],
    ["a 65-byte block hash", { ...prepare, blockHash: b(65) }, "view/blockHash"],
    ["an empty block hash", { ...prepare, type: "commit", blockHash: b(0) }, "view/blockHash"],
    ["a prePrepare without payload", { ...prepare, type: "prePrepare" }, "payload"],
    [
      "a prePrepare with a bad view",
      { ...prepare, type: "prePrepare", payload: b(1), view: -1 },
      "view/blockHash",
    ],
    [
      "a prePrepare with a bad hash",
      { ...prepare, type: "prePrepare", payload: b(1), blockHash: b(0) },
      "view/blockHash",
    ],
    ["a viewChange without prepared", { ...vc, prepared: undefined }, "prepared"],
    ["a viewChange with a bad toView", { ...vc, toView: -1 }, "toView"],
    ["a prepared that is not an object", { ...vc, prepared: 7 }, "prepared"],
    ["a prepared with a bad height", { ...vc, prepared: { ...prepared, height: -1 } }, "prepared"],
    ["a prepared with a bad view", { ...vc, prepared: { ...prepared, view: 1.5 } }, "prepared"],
    ["a prepared with a bad hash", { ...vc, prepared: { ...prepared, blockHash: b(0) } }, "prepared"],
    ["a prepared without payload", { ...vc, prepared: { ...prepared, payload: "x" } }, "prepared"],
    [
      "prepares that are not an array",
      { ...vc, prepared: { ...prepared, prepares: {} } },
      "prepared.prepares",
    ],
    ["a null prepare", { ...vc, prepared: { ...prepared, prepares: [null] } }, "prepared.prepares"],
    [
      "a prepare with an empty node id",
      { ...vc, prepared: { ...prepared, prepares: [{ nodeId: b(0), signature: b(64) }] } },
      "prepared.prepares",
    ],
    [
      "a prepare with a 129-byte signature",
      { ...vc, prepared: { ...prepared, prepares: [{ nodeId: b(32), signature: b(129) }] } },
      "prepared.prepares",
    ],
    [
      "1025 prepares",
      {
        ...vc,
        prepared: { ...prepared, prepares: Array.from({ length: 1025 }, () => prepared.prepares[0]) },
      },
      "prepared.prepares",
    ],
    ["a newView with a bad view", { ...newView, view: -1 }, "view/viewChanges"],
    ["a newView without viewChanges", { ...newView, viewChanges: undefined }, "view/viewChanges"],
    ["1025 view changes", { ...newView, viewChanges: Array.from({ length: 1025 }, () => vc) }, "viewChanges"],
    ["a view change of another type", { ...newView, viewChanges: [prepare] }, "viewChanges"],
    ["a null view change", { ...newView, viewChanges: [null] }, "viewChanges"],
    [
      "an inner view change with a bad sender",
      { ...newView, viewChanges: [vc, { ...vc, sender: b(0) }] },
      "viewChanges.sender",
    ],
    [
      "an inner view change with a bad toView",
      { ...newView, viewChanges: [{ ...vc, toView: -2 }] },
      "viewChanges.toView",
    ],
    [
      "an inner view change with a bad prepared",
      { ...newView, viewChanges: [{ ...vc, prepared: { ...prepared, view: -1 } }] },
      "viewChanges.prepared",
    ],
    ["an unknown type", { ...prepare, type: "vote" }, "type"],
  ])("blames %s", (_name, msg, field) => {
    expect(check(msg)).toBe(field);
  });
});
