// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

/// @title System config precompile at 0x0000000000000000000000000000000000001000 (FISCO BCOS SystemConfigPrecompiled).
/// @notice Values are decimal strings. A change made in block N is in force from block N + 1 (its enableNumber).
/// Known keys: tx_count_limit (>= 1), tx_gas_limit (>= 100000), consensus_leader_period (>= 1), min_gas_price (>= 0).
/// setValueByKey always reverts: a change is a committee proposal (ICommitteeManager.createSetSysConfigProposal
/// at 0x…10001), executed when its votes pass.
interface ISystemConfig {
    /// Reverts: "setValueByKey: changes go through committee proposals at 0x…10001 (consort gov propose)"
    function setValueByKey(string calldata key, string calldata value) external returns (int32);

    /// @return value the value in force in the current block ("" when unknown)
    /// @return enableNumber the block from which it is in force (-1 when unknown)
    function getValueByKey(string calldata key) external view returns (string memory value, int256 enableNumber);
}
