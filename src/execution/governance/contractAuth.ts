import type { PrecompileFunc } from "@ethereumjs/evm";
import type { Hex } from "viem";
import { decodeFunctionData, encodeAbiParameters, encodeEventTopics, encodeFunctionResult } from "viem/utils";
import { bytesToHex, hexToBytes } from "../../util/hex.js";
import {
  cappedGas,
  revertWith,
  SYSTEM_READ_GAS,
  SYSTEM_WRITE_GAS,
  type SystemPrecompileContext,
} from "../systemContracts.js";
import { CONTRACT_AUTH_ABI, CONTRACT_AUTH_ADDRESS } from "./abi.js";
import { Access, AclMode, aclRefusal } from "./layout.js";
import {
  readAccountStatus,
  readContractAdmin,
  readContractStatus,
  readDeployAccess,
  readDeployMode,
  readMethodAccess,
  readMethodMode,
  writeMethodAccess,
  writeMethodMode,
} from "./store.js";

type AuthCall = ReturnType<typeof decodeFunctionData<typeof CONTRACT_AUTH_ABI>>;
const ZERO = "0x0000000000000000000000000000000000000000" as Hex;

/**
 * ContractAuth (FISCO BCOS 3.x ContractAuthPrecompiled) at 0x…1005: the method ACL of a contract, set by that
 * contract's admin (appointed by a committee proposal, createResetAdminProposal), and reads of every ACL and status.
 */
export function contractAuthPrecompile(ctx: SystemPrecompileContext): PrecompileFunc {
  return async ({ data, gasLimit }) => {
    let call: AuthCall;
    try {
      call = decodeFunctionData({ abi: CONTRACT_AUTH_ABI, data: bytesToHex(data) as Hex });
    } catch {
      return revertWith(cappedGas(gasLimit), "unknown function or bad arguments");
    }
    const get = (k: string) => ctx.overlay.get(k);
    const store = { get, put: (k: string, v: Uint8Array | null) => ctx.overlay.put(k, v) };
    const isWrite =
      call.functionName === "setMethodAuthType" ||
      call.functionName === "openMethodAuth" ||
      call.functionName === "closeMethodAuth";
    if (!isWrite) {
      if (gasLimit < SYSTEM_READ_GAS) return revertWith(gasLimit, "out of gas");
      return { executionGasUsed: SYSTEM_READ_GAS, returnValue: hexToBytes(await read(get, call)) };
    }
    if (gasLimit < SYSTEM_WRITE_GAS) return revertWith(gasLimit, "out of gas");
    const msg = ctx.currentMessage();
    if (msg === undefined || msg.isStatic || msg.delegatecall) {
      return revertWith(SYSTEM_WRITE_GAS, "method ACL: cannot be changed in a static or delegate call");
    }
    const args = call.args as readonly [Hex, Hex, Hex | number];
    const contract = hexToBytes(args[0]);
    const selector = hexToBytes(args[1]);
    const admin = await readContractAdmin(get, contract);
    if (admin === null || bytesToHex(admin) !== bytesToHex(msg.caller.bytes)) {
      return revertWith(
        SYSTEM_WRITE_GAS,
        `method ACL: ${bytesToHex(msg.caller.bytes)} is not the admin of ${args[0]} (the committee appoints it: set-admin proposal)`,
      );
    }
    let account = ZERO;
    let value: number;
    if (call.functionName === "setMethodAuthType") {
      const mode = args[2] as number;
      if (mode !== AclMode.Open && mode !== AclMode.AllowList && mode !== AclMode.DenyList) {
        return revertWith(
          SYSTEM_WRITE_GAS,
          "method ACL: authType must be 0 (open), 1 (allow-list) or 2 (deny-list)",
        );
      }
      writeMethodMode(store, contract, selector, mode);
      value = mode;
    } else {
      account = args[2] as Hex;
      value = call.functionName === "openMethodAuth" ? Access.Open : Access.Closed;
      writeMethodAccess(store, contract, selector, hexToBytes(account), value);
    }
    const topics = encodeEventTopics({
      abi: CONTRACT_AUTH_ABI,
      eventName: "MethodAuthChanged",
      args: { contractAddr: args[0], func: args[1], account },
    });
    return {
      executionGasUsed: SYSTEM_WRITE_GAS,
      returnValue: hexToBytes(encodeAbiParameters([{ type: "int256" }], [0n])),
      logs: [
        [
          CONTRACT_AUTH_ADDRESS,
          topics.map((t) => hexToBytes(t as string)),
          hexToBytes(encodeAbiParameters([{ type: "uint8" }], [value])),
        ],
      ],
    };
  };
}

async function read(get: (k: string) => Promise<Uint8Array | null>, call: AuthCall): Promise<Hex> {
  const abi = CONTRACT_AUTH_ABI;
  switch (call.functionName) {
    case "getAdmin": {
      const admin = await readContractAdmin(get, hexToBytes(call.args[0]));
      return encodeFunctionResult({
        abi,
        functionName: "getAdmin",
        result: admin === null ? ZERO : (bytesToHex(admin) as Hex),
      });
    }
    case "getMethodAuthType":
      return encodeFunctionResult({
        abi,
        functionName: "getMethodAuthType",
        result: await readMethodMode(get, hexToBytes(call.args[0]), hexToBytes(call.args[1])),
      });
    case "checkMethodAuth": {
      const [c, sel, a] = [hexToBytes(call.args[0]), hexToBytes(call.args[1]), hexToBytes(call.args[2])];
      const refusal = aclRefusal(await readMethodMode(get, c, sel), await readMethodAccess(get, c, sel, a));
      return encodeFunctionResult({ abi, functionName: "checkMethodAuth", result: refusal === null });
    }
    case "deployType":
      return encodeFunctionResult({ abi, functionName: "deployType", result: await readDeployMode(get) });
    case "hasDeployAuth": {
      const a = hexToBytes(call.args[0]);
      const refusal = aclRefusal(await readDeployMode(get), await readDeployAccess(get, a));
      return encodeFunctionResult({ abi, functionName: "hasDeployAuth", result: refusal === null });
    }
    case "getAccountStatus":
      return encodeFunctionResult({
        abi,
        functionName: "getAccountStatus",
        result: await readAccountStatus(get, hexToBytes(call.args[0])),
      });
    case "getContractStatus":
      return encodeFunctionResult({
        abi,
        functionName: "getContractStatus",
        result: await readContractStatus(get, hexToBytes(call.args[0])),
      });
    default:
      return "0x";
  }
}
