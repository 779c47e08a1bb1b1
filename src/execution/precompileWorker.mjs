// Worker thread of src/execution/precompileOffload.ts: runs @ethereumjs/evm's own precompile functions (the same code
// the main thread would run, with the same hardfork parameters), so a long single precompile call (a large pairing,
// blake2f with many rounds, a large modexp) does not hold the node's event loop. Plain JavaScript: it loads in any
// runtime (tsx, vitest, node) without a TypeScript loader.
import { parentPort, workerData } from "node:worker_threads";
import { createCustomCommon, Mainnet } from "@ethereumjs/common";
import { getActivePrecompiles, NobleBN254 } from "@ethereumjs/evm";

// The gas parameters and EIPs as the node's EVMs have them (src/execution/gasSchedule.ts, sent by the main thread).
const common = createCustomCommon({ chainId: 1 }, Mainnet, {
  hardfork: workerData.hardfork,
  params: workerData.params,
  eips: workerData.eips,
});
const precompiles = getActivePrecompiles(common);
const evm = { _bn254: new NobleBN254() };

parentPort.on("message", async (req) => {
  try {
    const run = precompiles.get(req.address);
    if (run === undefined) throw new Error(`no precompile at ${req.address}`);
    const result = await run({ data: req.data, gasLimit: req.gasLimit, common, _EVM: evm });
    parentPort.postMessage({
      id: req.id,
      returnValue: result.returnValue,
      executionGasUsed: result.executionGasUsed,
      error:
        result.exceptionError === undefined
          ? null
          : (result.exceptionError.error ?? String(result.exceptionError)),
    });
  } catch (err) {
    parentPort.postMessage({ id: req.id, failed: String(err instanceof Error ? err.message : err) });
  }
});
