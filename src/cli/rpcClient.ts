import { errorMessage } from "../util/errors.js";
import { CliError } from "./args.js";

/** A node's JSON-RPC endpoint as the CLI commands (`gov`, `status`, `proof`) reach it. */
export interface RpcEndpoint {
  url: string;
  /** Bearer token (JWT) for a node with `rpc.auth`; `consort token issue` makes one. */
  token?: string;
  timeoutMs: number;
}

interface RpcAnswer {
  id?: number;
  result?: unknown;
  error?: { code?: number; message?: string };
}

/**
 * One JSON-RPC call; its result, or a CLI_RPC error that says what went wrong and where (its `meta.reason`: the
 * same in a few words, for a table).
 */
export async function rpcRequest<T>(endpoint: RpcEndpoint, method: string, params: unknown[]): Promise<T> {
  const answer = await post(endpoint, method, { jsonrpc: "2.0", id: 1, method, params });
  if (Array.isArray(answer) || typeof answer !== "object" || answer === null) {
    throw new CliError("CLI_RPC", `${endpoint.url} answered ${method} with something other than JSON-RPC`);
  }
  return resultOf(answer as RpcAnswer, method) as T;
}

/** Several calls in one JSON-RPC batch; the results in the order of `calls`. */
export async function rpcBatch(endpoint: RpcEndpoint, calls: [string, unknown[]][]): Promise<unknown[]> {
  const what = calls.map(([m]) => m).join(", ");
  const body = calls.map(([method, params], id) => ({ jsonrpc: "2.0", id, method, params }));
  const answers = await post(endpoint, what, body);
  if (!Array.isArray(answers)) {
    // A node refuses a whole batch with one error object (e.g. too many calls).
    const error = (answers as RpcAnswer | null)?.error?.message;
    throw new CliError(
      "CLI_RPC",
      `${endpoint.url} refused the batch (${what}): ${error ?? "not a batch answer"}`,
    );
  }
  const out: unknown[] = [];
  for (const a of answers as RpcAnswer[]) {
    const call = typeof a?.id === "number" ? calls[a.id] : undefined;
    if (call === undefined) throw new CliError("CLI_RPC", `${endpoint.url} answered an id it was not asked`);
    out[a.id as number] = resultOf(a, call[0]);
  }
  return out;
}

function resultOf(answer: RpcAnswer, method: string): unknown {
  if (answer.error !== undefined) {
    const reason = `${method}: ${answer.error.message ?? "error"}`;
    throw new CliError("CLI_RPC", reason, { reason, rpcCode: answer.error.code });
  }
  return answer.result;
}

async function post(endpoint: RpcEndpoint, what: string, body: unknown): Promise<unknown> {
  const { url, token, timeoutMs } = endpoint;
  let res: Response;
  try {
    res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (err) {
    throw unreachable(url, what, timeoutMs, err);
  }
  const text = await res.text().catch(() => "");
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  if (res.status === 401 || res.status === 403) {
    const reason = (parsed as RpcAnswer | undefined)?.error?.message ?? `HTTP ${res.status}`;
    const hint = token ? "" : " (this node wants a bearer token: --token JWT, made by `consort token issue`)";
    throw new CliError("CLI_RPC", `${url} refused ${what}: ${reason}${hint}`, {
      reason: `HTTP ${res.status}: ${reason}`,
    });
  }
  if (parsed === undefined) {
    throw new CliError("CLI_RPC", `${url} answered ${what} with HTTP ${res.status}, not JSON-RPC`, {
      reason: `HTTP ${res.status}, not JSON-RPC`,
    });
  }
  return parsed;
}

/** fetch's own error ("fetch failed") hides the reason in `cause`: ECONNREFUSED, ENOTFOUND, a timeout… */
function unreachable(url: string, what: string, timeoutMs: number, err: unknown): CliError {
  const e = err as { name?: string; cause?: { code?: string; message?: string } };
  if (e.name === "TimeoutError") {
    return new CliError("CLI_RPC", `${url} did not answer ${what} within ${timeoutMs} ms`, {
      reason: `no answer within ${timeoutMs} ms`,
    });
  }
  const cause = e.cause?.code ?? e.cause?.message ?? errorMessage(err);
  const hint = e.cause?.code === "ECONNREFUSED" ? ": is the node running? (--rpc URL names another)" : "";
  return new CliError("CLI_RPC", `cannot reach ${url} (${cause})${hint}`, { reason: cause });
}
