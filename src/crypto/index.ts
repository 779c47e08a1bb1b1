export { CryptoError, type CryptoErrorCode } from "./errors.js";
export { KECCAK_BACKEND, KECCAK256_EMPTY, keccak256 } from "./keccak.js";
export { type AccountKey, loadAccountKey, loadNodeKey, saveAccountKey, saveNodeKey } from "./keyFile.js";
export { type MerkleProof, merkleLeafHash, merkleProof, merkleRoot, verifyMerkleProof } from "./merkle.js";
export {
  NODE_ID_LENGTH,
  NODE_KEY_CACHE_SIZE_MAX,
  NODE_SEED_LENGTH,
  NODE_SIGNATURE_LENGTH,
  NodeKey,
  nodeKeyCacheSize,
  VERIFIED_SIGNATURE_CACHE_SIZE_MAX,
  verifiedSignatureCacheSize,
  verifyNodeSignature,
} from "./nodeKey.js";
export {
  RECOVERY_PENDING_MAX_DEFAULT,
  RECOVERY_THREADS_MAX,
  RecoveryThreads,
  type RecoveryThreadsOptions,
  type RecoveryThreadsStats,
} from "./recoveryThreads.js";
export {
  generatePrivateKey,
  isLowS,
  nobleSecp256k1PublicKey,
  nobleSecp256k1Recover,
  nobleSecp256k1Sign,
  nobleSecp256k1Verify,
  privateKeyToAddress,
  publicKeyToAddress,
  type RecoverableSignature,
  recoverAddress,
  SECP256K1_N,
  SECP256K1_N_HALF,
  secp256k1PublicKey,
  secp256k1Recover,
  secp256k1RecoveryCount,
  secp256k1Sign,
  secp256k1Verify,
} from "./secp256k1.js";
