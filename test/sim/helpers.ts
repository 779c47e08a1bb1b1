/** Small helpers for the simulator tests. */
import { Cluster, type SimNode } from "./cluster.js";
import { defaultSimOptions, type SimOptions } from "./options.js";

export function cluster(n: number, seed: number, overrides: Partial<SimOptions> = {}): Cluster {
  return new Cluster({ ...defaultSimOptions(seed, n), ...overrides });
}

export function minHeight(nodes: SimNode[]): number {
  return Math.min(...nodes.map((nd) => nd.height));
}

/** The leader index of (height, view 0) for leaderPeriod 1 over n validators. */
export function leaderOf(height: number, n: number): number {
  return height % n;
}
