import { Counter, Gauge, type Registry } from "prom-client";
import type { CounterSync } from "./counterSync.js";
import type { MetricsSources } from "./interface.js";

/** The p2p group of createConsortMetrics: messages, penalties and bans, refusals, relay, yamux credit. */
export function p2pMetrics(
  reg: { registers: Registry[] },
  src: () => MetricsSources | null,
  counterSync: CounterSync,
) {
  return {
    messages: new Counter({
      ...reg,
      name: "consort_p2p_messages_total",
      help: "Messages by topic or protocol and direction (in, out); gossip counted once per delivery to this node",
      labelNames: ["topic", "direction"] as const,
    }),
    bytes: new Counter({
      ...reg,
      name: "consort_p2p_message_bytes_total",
      help: "Payload bytes by topic or protocol and direction (in, out)",
      labelNames: ["topic", "direction"] as const,
    }),
    penalties: new Counter({
      ...reg,
      name: "consort_p2p_penalties_total",
      help: "Misbehaviour penalties this node gave to peers",
    }),
    penaltyPoints: new Counter({
      ...reg,
      name: "consort_p2p_penalty_points_total",
      help: "Sum of the misbehaviour points of those penalties",
    }),
    banned: new Gauge({
      ...reg,
      name: "consort_p2p_banned_peers",
      help: "Peers refused now because of a ban (a member's node among them stays cut off until the ban ends)",
      collect() {
        const s = src();
        if (s) this.set(s.network.bannedPeerCount());
      },
    }),
    bans: new Counter({
      ...reg,
      name: "consort_p2p_bans_total",
      help: "Peers disconnected and refused for the ban period after too many penalty points",
      collect() {
        const s = src();
        if (s) counterSync.sync(this, "p2p_bans", {}, s.network.stats().bans);
      },
    }),
    peerKeyConflicts: new Counter({
      ...reg,
      name: "consort_p2p_peer_key_conflicts_total",
      help:
        "Connections of a member announcing other listen addresses than its open one: that member's key runs in " +
        "two processes (a copied node folder); a validator's two can sign different blocks at one height",
      collect() {
        const s = src();
        if (s) counterSync.sync(this, "p2p_peer_key_conflicts", {}, s.network.stats().peerKeyConflicts);
      },
    }),
    refused: new Counter({
      ...reg,
      name: "consort_p2p_refused_total",
      help: "Connections or messages refused: kind=inbound, outbound, dial (non-members), gossip (rejected messages)",
      labelNames: ["kind"] as const,
      collect() {
        const s = src();
        if (!s) return;
        const st = s.network.stats();
        counterSync.sync(this, "p2p_refused", { kind: "inbound" }, st.refusedInbound);
        counterSync.sync(this, "p2p_refused", { kind: "outbound" }, st.refusedOutbound);
        counterSync.sync(this, "p2p_refused", { kind: "dial" }, st.refusedDials);
        counterSync.sync(this, "p2p_refused", { kind: "gossip" }, st.gossipRejected);
      },
    }),
    relay: new Counter({
      ...reg,
      name: "consort_p2p_gossip_relay_total",
      help:
        "Gossip this node passed on: result=forwarded (to a member its publisher did not reach), skipped (the " +
        "publisher named that member as reached), republished (a named member missed a publish of ours)",
      labelNames: ["result"] as const,
      collect() {
        const s = src();
        if (!s) return;
        const st = s.network.stats();
        counterSync.sync(this, "p2p_relay", { result: "forwarded" }, st.gossipForwards);
        counterSync.sync(this, "p2p_relay", { result: "skipped" }, st.gossipForwardsSkipped);
        counterSync.sync(this, "p2p_relay", { result: "republished" }, st.gossipRepublished);
      },
    }),
    windowUpdates: new Counter({
      ...reg,
      name: "consort_p2p_yamux_window_updates_total",
      help: "yamux receive-window credit: result=sent (frames), withheld (data frames whose credit waited for a batch)",
      labelNames: ["result"] as const,
      collect() {
        const s = src();
        if (!s) return;
        const st = s.network.stats();
        counterSync.sync(this, "p2p_window_updates", { result: "sent" }, st.windowUpdatesSent);
        counterSync.sync(this, "p2p_window_updates", { result: "withheld" }, st.windowUpdatesWithheld);
      },
    }),
  };
}
