/** JSON-RPC calls from the hub namespace to the nodes: a bounded time each, errors as exceptions. */

export class RpcCallError extends Error {
  override name = "RpcCallError";
  constructor(
    message: string,
    /** The node answered (with a JSON-RPC error): the request reached it. */
    readonly answered: boolean,
  ) {
    super(message);
  }
}

/** The bearer token every call carries (the nodes serve RPC off loopback, so they require one). */
let bearerToken: string | null = null;
export function useRpcToken(token: string | null): void {
  bearerToken = token;
}

export async function rpcCall<T = unknown>(
  url: string,
  method: string,
  params: unknown[] = [],
  timeoutMs = 5000,
): Promise<T> {
  let res: Response;
  try {
    res = await fetch(url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        ...(bearerToken ? { authorization: `Bearer ${bearerToken}` } : {}),
      },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause?.code;
    throw new RpcCallError(`${method}: ${cause ?? (err as Error).message}`, false);
  }
  const body = (await res.json()) as { result?: T; error?: { code: number; message: string } };
  if (body.error) throw new RpcCallError(`${method}: ${body.error.message} (${body.error.code})`, true);
  return body.result as T;
}

/** True when the error says the request never reached the node (connection refused): the tx was not submitted. */
export function neverReached(err: unknown): boolean {
  return err instanceof RpcCallError && !err.answered && /ECONNREFUSED|EHOSTUNREACH/.test(err.message);
}

export async function heightOf(url: string, timeoutMs = 3000): Promise<number | null> {
  try {
    return await rpcCall<number>(url, "getBlockNumber", ["group0", ""], timeoutMs);
  } catch {
    return null;
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
