// Worker thread of src/crypto/recoveryThreads.ts: recovers transaction senders (recoverBatch.mjs), so the node's
// event loop does not spend ~65 µs of every transaction on it.
//
// Request: { id, items }    Answer: { id, answers }    (the byte layouts: recoverBatch.mjs)
import { parentPort } from "node:worker_threads";
import { recoverBatch } from "./recoverBatch.mjs";

parentPort.on("message", ({ id, items }) => {
  const answers = recoverBatch(items);
  parentPort.postMessage({ id, answers }, [answers.buffer]);
});
