/** ethereumjs error names → geth's wording (core/vm/errors.go); names not listed are shown as they are. */
const GETH_WORDING: Record<string, string> = {
  revert: "execution reverted",
  "out of gas": "out of gas",
  "invalid JUMP": "invalid jump destination",
  "static state change": "write protection",
  "code store out of gas": "contract creation code storage out of gas",
  "code size to deposit exceeds maximum code size": "max code size exceeded",
  "create collision": "contract address collision",
  "insufficient balance": "insufficient balance for transfer",
  "stack overflow": "stack limit reached 1024 (1023)",
  "value overflow": "gas uint64 overflow",
  "invalid opcode": "invalid opcode: INVALID",
};

/** The geth-worded message of an EVM error ("out of gas", "execution reverted", …). */
export function gethErrorMessage(error: string): string {
  return GETH_WORDING[error] ?? error;
}

const ERROR_STRING_SELECTOR = "08c379a0";

/** The reason of an Error(string) revert payload; null for other payloads (custom errors, empty, malformed). */
export function errorStringReason(output: Uint8Array): string | null {
  if (output.length < 4 + 64) return null;
  const hex = Buffer.from(output).toString("hex");
  if (!hex.startsWith(ERROR_STRING_SELECTOR)) return null;
  const body = output.subarray(4);
  const word = (at: number) => BigInt(`0x${Buffer.from(body.subarray(at, at + 32)).toString("hex")}`);
  const offset = word(0);
  if (offset + 32n > BigInt(body.length)) return null;
  const length = word(Number(offset));
  const start = Number(offset) + 32;
  if (BigInt(start) + length > BigInt(body.length)) return null;
  return new TextDecoder("utf-8", { fatal: false }).decode(body.subarray(start, start + Number(length)));
}
