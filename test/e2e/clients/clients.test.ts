import { afterAll, beforeAll, describe } from "vitest";
import { ethersSuite } from "./ethersSuite.js";
import { hardhatSuite } from "./hardhatSuite.js";
import { hostileSuite } from "./hostileSuite.js";
import { type ClientNet, startClientNet } from "./net.js";
import { viemSuite } from "./viemSuite.js";
import { web3Suite } from "./web3Suite.js";

/**
 * Acceptance (issue 6): real Ethereum clients that Consort's team did not write, unchanged, against one real 4-validator
 * testnet (separate processes on 127.0.0.1): ethers v6, viem, web3.js v4, a Hardhat 2 project, and hostile requests.
 */
describe("e2e: real Ethereum clients against a 4-validator testnet", { timeout: 120_000 }, () => {
  let net: ClientNet | undefined;

  beforeAll(async () => {
    net = await startClientNet();
  }, 240_000);

  afterAll(async () => {
    await net?.close();
  }, 60_000);

  const getNet = (): ClientNet => {
    if (!net) throw new Error("testnet did not start");
    return net;
  };

  ethersSuite(getNet);
  viemSuite(getNet);
  web3Suite(getNet);
  hardhatSuite(getNet);
  hostileSuite(getNet);
});
