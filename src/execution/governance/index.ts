import { Address as EthAddress } from "@ethereumjs/util";
import type { SystemPrecompileContext } from "../systemContracts.js";
import { COMMITTEE_ADDRESS, CONTRACT_AUTH_ADDRESS } from "./abi.js";
import { committeePrecompile } from "./committee.js";
import { contractAuthPrecompile } from "./contractAuth.js";

export {
  COMMITTEE_ABI,
  COMMITTEE_ADDRESS,
  CONTRACT_AUTH_ABI,
  CONTRACT_AUTH_ADDRESS,
  PROPOSAL_KIND_NAMES,
  ProposalKind,
} from "./abi.js";
export { DEFAULT_PROPOSAL_EXPIRY_BLOCKS, PROPOSAL_EXPIRY_BLOCKS_MAX } from "./committee.js";
export {
  AclMode,
  type Committee,
  encodeCommittee,
  type Governor,
  PROPOSAL_STATUS_NAMES,
  ProposalStatus,
  Status,
} from "./layout.js";
export { quorumWeightOf } from "./nodeSafety.js";
export { callRefusal, deployRefusal, permissionHook, revertCode, senderRefusal } from "./permissions.js";
export {
  type Change,
  decodeChange,
  describeChange,
  GOVERNOR_COUNT_MAX,
  GOVERNOR_WEIGHT_MAX,
} from "./proposals.js";
export { type KeyGetter, readCommittee } from "./store.js";
export { tally } from "./tally.js";

/** The governance system contracts for createEnv's customPrecompiles. */
export function governancePrecompiles(ctx: SystemPrecompileContext) {
  return [
    { address: new EthAddress(COMMITTEE_ADDRESS), function: committeePrecompile(ctx) },
    { address: new EthAddress(CONTRACT_AUTH_ADDRESS), function: contractAuthPrecompile(ctx) },
  ];
}
