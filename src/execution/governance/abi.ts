import { parseAbi } from "viem/utils";
import type { Address } from "../../types/index.js";
import { hexToBytes } from "../../util/hex.js";

/**
 * Committee governance at 0x…10001: FISCO BCOS 3.x's CommitteeManager address, so FISCO users find it where they
 * expect it; it lies outside the 0x1000–0x10000 range of the other system contracts, as in FISCO.
 * ContractAuth (method ACLs by a contract's admin, ACL and status reads) at 0x…1005, FISCO's ContractAuthPrecompiled.
 */
export const COMMITTEE_ADDRESS: Address = hexToBytes("0x0000000000000000000000000000000000010001");
export const CONTRACT_AUTH_ADDRESS: Address = hexToBytes("0x0000000000000000000000000000000000001005");

/** Solidity interface: contracts/system/ICommitteeManager.sol (keep both in step). */
export const COMMITTEE_ABI = parseAbi([
  "function createSetSysConfigProposal(string key, string value, uint256 blockNumberInterval) returns (uint256)",
  "function createAddObserverProposal(string nodeId, uint256 blockNumberInterval) returns (uint256)",
  "function createAddSealerProposal(string nodeId, uint256 weight, uint256 blockNumberInterval) returns (uint256)",
  "function createSetWeightProposal(string nodeId, uint256 weight, uint256 blockNumberInterval) returns (uint256)",
  "function createRmNodeProposal(string nodeId, uint256 blockNumberInterval) returns (uint256)",
  "function createUpdateGovernorProposal(address account, uint256 weight, uint256 blockNumberInterval) returns (uint256)",
  "function createSetRateProposal(uint8 participatesRate, uint8 winRate, uint256 blockNumberInterval) returns (uint256)",
  "function createSetDeployAuthTypeProposal(uint8 deployAuthType, uint256 blockNumberInterval) returns (uint256)",
  "function createModifyDeployAuthProposal(address account, bool openFlag, uint256 blockNumberInterval) returns (uint256)",
  "function createResetAdminProposal(address newAdmin, address contractAddr, uint256 blockNumberInterval) returns (uint256)",
  "function createSetAccountStatusProposal(address account, uint8 status, uint256 blockNumberInterval) returns (uint256)",
  "function createSetContractStatusProposal(address contractAddr, uint8 status, uint256 blockNumberInterval) returns (uint256)",
  "function voteProposal(uint256 proposalId, bool agree)",
  "function revokeProposal(uint256 proposalId)",
  "function getCommitteeInfo() view returns (uint8 participatesRate, uint8 winRate, address[] governors, uint256[] weights)",
  "function proposalCount() view returns (uint256)",
  "function getProposalInfo(uint256 proposalId) view returns (address proposer, uint8 proposalType, uint8 status, uint256 createdAt, uint256 expiresAt, address[] agreeVoters, address[] againstVoters, bytes[] args)",
  "event ProposalCreated(uint256 indexed proposalId, address indexed proposer, uint8 proposalType, uint256 expiresAt)",
  "event ProposalVoted(uint256 indexed proposalId, address indexed voter, bool agree)",
  "event ProposalRevoked(uint256 indexed proposalId, address indexed proposer)",
  "event ProposalExecuted(uint256 indexed proposalId)",
  "event ProposalRejected(uint256 indexed proposalId)",
]);

/** Solidity interface: contracts/system/IContractAuth.sol. */
export const CONTRACT_AUTH_ABI = parseAbi([
  "function setMethodAuthType(address contractAddr, bytes4 func, uint8 authType) returns (int256)",
  "function openMethodAuth(address contractAddr, bytes4 func, address account) returns (int256)",
  "function closeMethodAuth(address contractAddr, bytes4 func, address account) returns (int256)",
  "function getAdmin(address contractAddr) view returns (address)",
  "function getMethodAuthType(address contractAddr, bytes4 func) view returns (uint8)",
  "function checkMethodAuth(address contractAddr, bytes4 func, address account) view returns (bool)",
  "function deployType() view returns (uint8)",
  "function hasDeployAuth(address account) view returns (bool)",
  "function getAccountStatus(address account) view returns (uint8)",
  "function getContractStatus(address contractAddr) view returns (uint8)",
  "event MethodAuthChanged(address indexed contractAddr, bytes4 indexed func, address indexed account, uint8 value)",
]);

/** Proposal kinds (the `proposalType` of getProposalInfo and ProposalCreated). */
export const ProposalKind = {
  SetSysConfig: 1,
  AddObserver: 2,
  AddSealer: 3,
  SetWeight: 4,
  RemoveNode: 5,
  UpdateGovernor: 6,
  SetRate: 7,
  SetDeployAuthType: 8,
  ModifyDeployAuth: 9,
  ResetAdmin: 10,
  SetAccountStatus: 11,
  SetContractStatus: 12,
} as const;
export type ProposalKind = (typeof ProposalKind)[keyof typeof ProposalKind];

/** kind → the name used by the CLI and the RPC (`consort gov propose <name>`). */
export const PROPOSAL_KIND_NAMES: Record<number, string> = {
  1: "set-config",
  2: "add-observer",
  3: "add-sealer",
  4: "set-weight",
  5: "remove-node",
  6: "set-governor",
  7: "set-rate",
  8: "deploy-type",
  9: "deploy-access",
  10: "set-admin",
  11: "account-status",
  12: "contract-status",
};
