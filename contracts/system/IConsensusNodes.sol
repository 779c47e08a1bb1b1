// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

/// @title Consensus node list precompile at 0x0000000000000000000000000000000000001003 (FISCO BCOS ConsensusPrecompiled).
/// @notice Node IDs are "0x" + 64 hex digits: the node's 32-byte Ed25519 public key. A change made in block N is in
/// force from block N + 1. The write functions always revert: node changes are committee proposals
/// (ICommitteeManager at 0x…10001: createAddObserverProposal, createAddSealerProposal, createSetWeightProposal,
/// createRmNodeProposal), checked by the rules of docs/governance.md. Weights are 1..1000000.
interface IConsensusNodes {
    function addSealer(string calldata nodeId, uint256 weight) external returns (int32);

    function addObserver(string calldata nodeId) external returns (int32);

    function remove(string calldata nodeId) external returns (int32);

    function setWeight(string calldata nodeId, uint256 weight) external returns (int32);

    /// @notice Sealers in force in the current block, in stored order.
    function getSealers() external view returns (string[] memory nodeIds, uint256[] memory weights);

    /// @notice Observers in force in the current block.
    function getObservers() external view returns (string[] memory nodeIds);
}
