/** The pure PBFT core: no I/O, deterministic. Drivers and the simulator import from here. */
export { equalBytes, toHex } from "./bytes.js";
export type { CertificateCheck, CertificateReason } from "./certificate.js";
export { verifyCertificate, verifyPreparedCertificate, verifyQuorumSignatures } from "./certificate.js";
export type { HashFn } from "./digest.js";
export {
  commitDigest,
  DOMAIN,
  messageDigest,
  newViewDigest,
  prePrepareDigest,
  prepareDigest,
  viewChangeDigest,
} from "./digest.js";
export type { PbftCounters } from "./pbftCore.js";
export { PbftCore } from "./pbftCore.js";
export {
  honestWeight,
  leaderIndex,
  maxFaultyWeight,
  quorumWeight,
  totalWeight,
  ValidatorSet,
} from "./quorum.js";
export { isBlankHardState } from "./restore.js";
export type { CoreStatus } from "./state.js";
export type * from "./types.js";
export { defaultPbftConfig } from "./types.js";
export { checkMessageShape } from "./validate.js";
