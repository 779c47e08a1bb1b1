import { bytesToHex } from "../util/hex.js";
import { RpcError } from "./errors.js";

const ERROR_SELECTOR = "08c379a0"; // Error(string)
const PANIC_SELECTOR = "4e487b71"; // Panic(uint256)

const PANIC_REASONS: Record<number, string> = {
  0: "generic panic",
  1: "assert(false)",
  17: "arithmetic underflow or overflow",
  18: "division or modulo by zero",
  33: "enum overflow",
  34: "invalid encoded storage byte array accessed",
  49: "out-of-bounds array access; popping on an empty array",
  50: "out-of-bounds access of an array or bytesN",
  65: "out of memory",
  81: "uninitialized function",
};

function readWord(data: Uint8Array, offset: number): bigint | null {
  if (offset + 32 > data.length) return null;
  let v = 0n;
  for (let i = offset; i < offset + 32; i++) v = (v << 8n) | BigInt(data[i]!);
  return v;
}

/** The human reason inside revert data: Error(string) text, a Panic description, or null (custom error / empty). */
export function decodeRevertReason(data: Uint8Array): string | null {
  if (data.length < 4) return null;
  const selector = Buffer.from(data.subarray(0, 4)).toString("hex");
  const body = data.subarray(4);
  if (selector === ERROR_SELECTOR) {
    const offset = readWord(body, 0);
    if (offset === null || offset > BigInt(body.length)) return null;
    const len = readWord(body, Number(offset));
    if (len === null) return null;
    const start = Number(offset) + 32;
    if (BigInt(start) + len > BigInt(body.length)) return null;
    return Buffer.from(body.subarray(start, start + Number(len))).toString("utf8");
  }
  if (selector === PANIC_SELECTOR) {
    const code = readWord(body, 0);
    if (code === null) return null;
    const reason = code <= 0xffn ? PANIC_REASONS[Number(code)] : undefined;
    return reason ?? `unknown panic code: 0x${code.toString(16)}`;
  }
  return null;
}

/** geth's revert error: code 3, "execution reverted[: reason]", data = revert bytes. */
export function revertError(output: Uint8Array): RpcError {
  const reason = decodeRevertReason(output);
  const message = reason === null ? "execution reverted" : `execution reverted: ${reason}`;
  return new RpcError("RPC_EXECUTION_REVERTED", message, {}, bytesToHex(output));
}
