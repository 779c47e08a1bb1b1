// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

/// @title Permissions at 0x0000000000000000000000000000000000001005 (FISCO BCOS 3.x ContractAuthPrecompiled).
/// @notice The method ACL of a contract is set by that contract's admin, whom the committee appoints
/// (ICommitteeManager.createResetAdminProposal). authType: 0 open, 1 allow-list (only opened accounts may call
/// the function), 2 deny-list (closed accounts may not). The account checked is msg.sender of the call into the
/// contract (not tx.origin). Deploy ACL, account and contract status change only by committee proposals; this
/// contract reads them.
interface IContractAuth {
    event MethodAuthChanged(address indexed contractAddr, bytes4 indexed func, address indexed account, uint8 value);

    function setMethodAuthType(address contractAddr, bytes4 func, uint8 authType) external returns (int256);
    function openMethodAuth(address contractAddr, bytes4 func, address account) external returns (int256);
    function closeMethodAuth(address contractAddr, bytes4 func, address account) external returns (int256);

    function getAdmin(address contractAddr) external view returns (address);
    function getMethodAuthType(address contractAddr, bytes4 func) external view returns (uint8);
    function checkMethodAuth(address contractAddr, bytes4 func, address account) external view returns (bool);
    /// 0 open, 1 allow-list, 2 deny-list
    function deployType() external view returns (uint8);
    function hasDeployAuth(address account) external view returns (bool);
    /// 0 normal, 1 frozen, 2 abolished
    function getAccountStatus(address account) external view returns (uint8);
    function getContractStatus(address contractAddr) external view returns (uint8);
}
