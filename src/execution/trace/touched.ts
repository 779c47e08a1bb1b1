import type { InterpreterStep } from "@ethereumjs/evm";

const ADDRESS_AT_TOP = new Set(["BALANCE", "EXTCODESIZE", "EXTCODECOPY", "EXTCODEHASH", "SELFDESTRUCT"]);
const ADDRESS_SECOND = new Set(["CALL", "CALLCODE", "DELEGATECALL", "STATICCALL"]);
const MASK_160 = (1n << 160n) - 1n;

/** The 0x-hex address of a 160-bit stack word. */
function addressOf(word: bigint): string {
  return `0x${(word & MASK_160).toString(16).padStart(40, "0")}`;
}

/** The account a step reads or calls (BALANCE, EXT*, CALL*, SELFDESTRUCT), as 0x-hex; null for other steps. */
export function stepAccount(step: InterpreterStep): string | null {
  const n = step.stack.length;
  const op = step.opcode.name;
  if (ADDRESS_AT_TOP.has(op) && n >= 1) return addressOf(step.stack[n - 1]!);
  if (ADDRESS_SECOND.has(op) && n >= 2) return addressOf(step.stack[n - 2]!);
  return null;
}

/** The storage slot (64-digit hex, no 0x) an SLOAD / SSTORE step touches in the running contract; else null. */
export function stepSlot(step: InterpreterStep): string | null {
  const op = step.opcode.name;
  if ((op !== "SLOAD" && op !== "SSTORE") || step.stack.length === 0) return null;
  return step.stack[step.stack.length - 1]!.toString(16).padStart(64, "0");
}
