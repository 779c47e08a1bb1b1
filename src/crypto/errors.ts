import { ConsortError } from "../util/errors.js";

export type CryptoErrorCode =
  | "CRYPTO_INVALID_SIGNATURE"
  | "CRYPTO_INVALID_KEY"
  | "CRYPTO_INVALID_INPUT"
  | "CRYPTO_KEY_FILE_MISSING"
  | "CRYPTO_KEY_FILE_UNREADABLE"
  | "CRYPTO_KEY_FILE_MALFORMED"
  | "CRYPTO_KEY_FILE_WRONG_TYPE"
  | "CRYPTO_KEY_FILE_BAD_LENGTH"
  | "CRYPTO_KEY_FILE_MISMATCH"
  | "CRYPTO_KEY_FILE_WRITE_FAILED";

export class CryptoError extends ConsortError<CryptoErrorCode> {}
