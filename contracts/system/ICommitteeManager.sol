// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

/// @title Committee governance at 0x0000000000000000000000000000000000010001 (FISCO BCOS 3.x CommitteeManager).
/// @notice Governors (accounts with weights, set in genesis `committee`) propose every change of the chain; the
/// proposer's own vote counts "for". A proposal passes when the voters' weight reaches participatesRate% of the
/// total governor weight and the "for" weight reaches winRate% of the voters' weight; it executes in the
/// transaction (and block) of the vote that meets both. It is rejected when it can no longer pass. Votes and
/// revocations are refused after block `expiresAt` = creation block + blockNumberInterval (0 = 10000 blocks).
/// Non-governors revert with "committee: 0x… is not a governor, …". A proposal whose change is invalid now
/// (e.g. one that would make the PBFT quorum unreachable) reverts with "committee: refused: <rule>".
/// See docs/governance.md for every rule and the mapping to FISCO's names.
interface ICommitteeManager {
    event ProposalCreated(uint256 indexed proposalId, address indexed proposer, uint8 proposalType, uint256 expiresAt);
    event ProposalVoted(uint256 indexed proposalId, address indexed voter, bool agree);
    event ProposalRevoked(uint256 indexed proposalId, address indexed proposer);
    event ProposalExecuted(uint256 indexed proposalId);
    event ProposalRejected(uint256 indexed proposalId);

    // ---- proposals: each returns the new proposal's id (type in brackets) ----
    /// [1] a system config key (tx_count_limit, tx_gas_limit, consensus_leader_period, min_gas_price, …)
    function createSetSysConfigProposal(string calldata key, string calldata value, uint256 blockNumberInterval)
        external returns (uint256);
    /// [2] add a node as observer (it may connect and sync; it does not vote)
    function createAddObserverProposal(string calldata nodeId, uint256 blockNumberInterval) external returns (uint256);
    /// [3] make an observer (in force before this block) a sealer with `weight`
    function createAddSealerProposal(string calldata nodeId, uint256 weight, uint256 blockNumberInterval)
        external returns (uint256);
    /// [4] change a sealer's weight
    function createSetWeightProposal(string calldata nodeId, uint256 weight, uint256 blockNumberInterval)
        external returns (uint256);
    /// [5] remove a sealer or observer
    function createRmNodeProposal(string calldata nodeId, uint256 blockNumberInterval) external returns (uint256);
    /// [6] add a governor, change its weight, or remove it (weight 0)
    function createUpdateGovernorProposal(address account, uint256 weight, uint256 blockNumberInterval)
        external returns (uint256);
    /// [7] participation and win rates, percent 0..100
    function createSetRateProposal(uint8 participatesRate, uint8 winRate, uint256 blockNumberInterval)
        external returns (uint256);
    /// [8] deploy ACL mode: 0 open, 1 allow-list, 2 deny-list
    function createSetDeployAuthTypeProposal(uint8 deployAuthType, uint256 blockNumberInterval)
        external returns (uint256);
    /// [9] open (true) or close (false) deployment for `account`
    function createModifyDeployAuthProposal(address account, bool openFlag, uint256 blockNumberInterval)
        external returns (uint256);
    /// [10] appoint the method ACL admin of a contract (IContractAuth at 0x1005)
    function createResetAdminProposal(address newAdmin, address contractAddr, uint256 blockNumberInterval)
        external returns (uint256);
    /// [11] account status: 0 normal, 1 frozen, 2 abolished (final)
    function createSetAccountStatusProposal(address account, uint8 status, uint256 blockNumberInterval)
        external returns (uint256);
    /// [12] contract status: 0 normal, 1 frozen, 2 abolished (final)
    function createSetContractStatusProposal(address contractAddr, uint8 status, uint256 blockNumberInterval)
        external returns (uint256);

    // ---- votes ----
    function voteProposal(uint256 proposalId, bool agree) external;
    /// the proposer only, while the proposal is open and not expired
    function revokeProposal(uint256 proposalId) external;

    // ---- reads ----
    function getCommitteeInfo()
        external view returns (uint8 participatesRate, uint8 winRate, address[] memory governors, uint256[] memory weights);
    function proposalCount() external view returns (uint256);
    /// status: 0 open, 1 executed, 2 rejected, 3 revoked (an open one past expiresAt can no longer pass)
    function getProposalInfo(uint256 proposalId)
        external view returns (
            address proposer,
            uint8 proposalType,
            uint8 status,
            uint256 createdAt,
            uint256 expiresAt,
            address[] memory agreeVoters,
            address[] memory againstVoters,
            bytes[] memory args
        );
}
