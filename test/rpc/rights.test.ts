import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { handleBody } from "../../src/rpc/dispatch.js";
import {
  ALL_RIGHTS,
  DEBUG_RIGHTS,
  ETH_RIGHTS,
  FISCO_GROUP_RIGHTS,
  FISCO_RIGHTS,
  GOVERNANCE_RIGHTS,
  type Right,
} from "../../src/rpc/rights.js";
import { rpcMethods } from "../../src/rpc/server.js";
import { type Harness, type RpcResponse, startHarness } from "./helpers.js";
import { TestTokens } from "./tokens.js";

let h: Harness;
let tokens: TestTokens;
const only: Record<Right, string> = { read: "", submit: "", admin: "" };

beforeAll(async () => {
  tokens = await TestTokens.create();
  h = await startHarness({ jwt: tokens.jwt });
  for (const r of ALL_RIGHTS) only[r] = await tokens.issue(`only-${r}`, [r]);
});
afterAll(async () => {
  await h.close();
  await tokens.remove();
});

async function callAs(token: string, method: string): Promise<{ status: number; body: RpcResponse }> {
  const r = await h.post(JSON.stringify({ jsonrpc: "2.0", id: 1, method, params: [] }), {
    "content-type": "application/json",
    authorization: `Bearer ${token}`,
  });
  return { status: r.status, body: r.json as RpcResponse };
}

describe("rights per method", () => {
  it("every method of every namespace declares one of read/submit/admin, as the rights tables say", () => {
    const names = Object.keys(rpcMethods);
    const tables: Record<string, Right>[] = [
      ETH_RIGHTS,
      FISCO_RIGHTS,
      FISCO_GROUP_RIGHTS,
      DEBUG_RIGHTS,
      GOVERNANCE_RIGHTS,
    ];
    expect(names.length).toBe(tables.reduce((n, t) => n + Object.keys(t).length, 0));
    for (const name of names) {
      const expected = tables.map((t) => t[name]).find((r) => r !== undefined);
      expect(ALL_RIGHTS, name).toContain(rpcMethods[name]!.right);
      expect(rpcMethods[name]!.right, name).toBe(expected);
    }
    expect(rpcMethods.eth_sendRawTransaction!.right).toBe("submit");
    expect(rpcMethods.sendTransaction!.right).toBe("submit");
    expect(rpcMethods.getPeers!.right).toBe("admin");
    expect(rpcMethods.eth_getBalance!.right).toBe("read");
    expect(rpcMethods.getCommitteeInfo!.right).toBe("read");
  });

  it("the server enforces each method's right: refused (HTTP 403, -40300) without it, dispatched with it", async () => {
    for (const [name, def] of Object.entries(rpcMethods)) {
      for (const right of ALL_RIGHTS) {
        const { status, body } = await callAs(only[right], name);
        if (right === def.right) {
          // Dispatched: any answer but a permission error (most fail on the missing params).
          expect(status, `${name} with ${right}`).toBe(200);
          expect(body.error?.code, `${name} with ${right}`).not.toBe(-40300);
        } else {
          expect(status, `${name} with ${right}`).toBe(403);
          expect(body.error?.code, `${name} with ${right}`).toBe(-40300);
          expect(body.error?.message).toBe(
            `permission denied: ${name} needs the "${def.right}" right; principal "only-${right}" holds ${right}`,
          );
        }
      }
    }
  });

  it("a method whose right is missing at run time is refused to everyone (fail closed)", async () => {
    const methods = { x_noRight: { params: [], handler: () => "ran", right: undefined as unknown as Right } };
    const ctx = { principal: { id: "root", rights: new Set(ALL_RIGHTS), via: "token", expiresAtMs: null } };
    const r = await handleBody(
      { jsonrpc: "2.0", id: 1, method: "x_noRight", params: [] },
      { ctx: ctx as never },
      methods,
      null,
    );
    expect((r as RpcResponse).error?.code).toBe(-40300);
  });

  it("a batch mixing allowed and refused calls answers each (HTTP 200); an all-refused batch is HTTP 403", async () => {
    const mixed = await h.post(
      JSON.stringify([
        { jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] },
        { jsonrpc: "2.0", id: 2, method: "eth_sendRawTransaction", params: ["0x00"] },
      ]),
      { "content-type": "application/json", authorization: `Bearer ${only.read}` },
    );
    expect(mixed.status).toBe(200);
    const [a, b] = mixed.json as RpcResponse[];
    expect(a!.result).toBe("0x4ee8");
    expect(b!.error?.code).toBe(-40300);
    const refused = await h.post(
      JSON.stringify([{ jsonrpc: "2.0", id: 1, method: "eth_sendRawTransaction", params: ["0x00"] }]),
      { "content-type": "application/json", authorization: `Bearer ${only.read}` },
    );
    expect(refused.status).toBe(403);
  });
});
