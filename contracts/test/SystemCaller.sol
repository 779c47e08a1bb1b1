// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

import {ICommitteeManager} from "../system/ICommitteeManager.sol";
import {ISystemConfig} from "../system/ISystemConfig.sol";

/// @title Test helper: governance from a contract (msg.sender = this contract), forwarding calls and creating
/// contracts (the deploy and method ACLs check msg.sender, so this contract is the one checked).
contract SystemCaller {
    ICommitteeManager private constant COMMITTEE = ICommitteeManager(address(0x10001));
    ISystemConfig private constant CONFIG = ISystemConfig(address(0x1000));

    /// A one-governor committee: the proposal executes at once.
    function set(string calldata key, string calldata value) external returns (uint256) {
        return COMMITTEE.createSetSysConfigProposal(key, value, 0);
    }

    /// Changes the config, then reverts: the change must be undone with the rest of the call.
    function setThenRevert(string calldata key, string calldata value) external {
        COMMITTEE.createSetSysConfigProposal(key, value, 0);
        revert("rolled back");
    }

    /// A write through STATICCALL must fail.
    function staticSet(string calldata key, string calldata value) external view returns (bool ok) {
        (ok, ) = address(COMMITTEE).staticcall(
            abi.encodeCall(ICommitteeManager.createSetSysConfigProposal, (key, value, 0))
        );
    }

    function get(string calldata key) external view returns (string memory value, int256 enableNumber) {
        return CONFIG.getValueByKey(key);
    }

    /// Calls `to` with `data` (msg.sender there is this contract); bubbles a revert up.
    function forward(address to, bytes calldata data) external returns (bytes memory) {
        (bool ok, bytes memory out) = to.call(data);
        if (!ok) {
            assembly {
                revert(add(out, 32), mload(out))
            }
        }
        return out;
    }

    /// CREATE with `initCode`: returns the address, or reverts with the creation's revert data.
    function create(bytes calldata initCode) external returns (address addr) {
        bytes memory code = initCode;
        assembly {
            addr := create(0, add(code, 32), mload(code))
        }
        if (addr == address(0)) {
            assembly {
                returndatacopy(0, 0, returndatasize())
                revert(0, returndatasize())
            }
        }
    }
}
