// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

import {ISystemConfig} from "../system/ISystemConfig.sol";

/// @title Test helper: calls the system config precompile from a contract (msg.sender = this contract).
contract SystemCaller {
    ISystemConfig private constant CONFIG = ISystemConfig(address(0x1000));

    function set(string calldata key, string calldata value) external returns (int32) {
        return CONFIG.setValueByKey(key, value);
    }

    /// Changes the config, then reverts: the change must be undone with the rest of the call.
    function setThenRevert(string calldata key, string calldata value) external {
        CONFIG.setValueByKey(key, value);
        revert("rolled back");
    }

    /// A write through STATICCALL must fail.
    function staticSet(string calldata key, string calldata value) external view returns (bool ok) {
        (ok, ) = address(CONFIG).staticcall(abi.encodeCall(ISystemConfig.setValueByKey, (key, value)));
    }

    function get(string calldata key) external view returns (string memory value, int256 enableNumber) {
        return CONFIG.getValueByKey(key);
    }
}
