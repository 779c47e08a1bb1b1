// Worker thread of src/crypto/recoveryThreads.ts: recovers transaction senders (recoverBatch.mjs), so the node's
// event loop does not spend ~65 µs of every transaction on it.
//
// Request: { id, items }    Answer: { id, answers }    (the byte layouts: recoverBatch.mjs)
// "close": no answer; the worker closes its port and its thread ends.
import { parentPort } from "node:worker_threads";
import { recoverBatch } from "./recoverBatch.mjs";

parentPort.on("message", (message) => {
  // RecoveryThreads.close: end by closing the port, not by being terminated (see CLOSE_MESSAGE there).
  if (message === "close") {
    parentPort.close();
    return;
  }
  const { id, items } = message;
  const answers = recoverBatch(items);
  parentPort.postMessage({ id, answers }, [answers.buffer]);
});
