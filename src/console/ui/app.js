// Consort web console: plain JS, no build step. Talks JSON-RPC to the node that serves it (POST / and the WebSocket
// on /), so it sees exactly what that node's RPC gives this browser. Hash routes: #/ #/validators #/blocks
// #/block/<n|hash> #/tx/<hash> #/address/<addr> #/governance. Everything from the node is rendered as text.

const GROUP = "group0";
const CHART_BLOCKS = 30;
const CACHE_MAX = 256;
const ADDRESS_SCAN_BLOCKS = 200;

// ------------------------------------------------------------------ JSON-RPC

// A node that requires bearer tokens: open the console as /ui/?token=<JWT>; the token is kept for this tab only and
// sent with every call (Authorization header; ?token= on the WebSocket, where browsers cannot set headers).
const TOKEN_KEY = "consort.rpcToken";
const urlToken = new URLSearchParams(location.search).get("token");
if (urlToken) sessionStorage.setItem(TOKEN_KEY, urlToken);
const rpcToken = sessionStorage.getItem(TOKEN_KEY);

let rpcId = 0;
class RpcError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}
async function rpc(method, params = []) {
  const res = await fetch("/", {
    method: "POST",
    headers: {
      "content-type": "application/json",
      ...(rpcToken ? { authorization: `Bearer ${rpcToken}` } : {}),
    },
    body: JSON.stringify({ jsonrpc: "2.0", id: ++rpcId, method, params }),
  });
  const body = await res.json();
  if (body.error) throw new RpcError(body.error.code, body.error.message);
  return body.result;
}
const hex = (n) => `0x${n.toString(16)}`;
const num = (h) => (typeof h === "number" ? h : Number.parseInt(h, 16));

/** FISCO getBlockByNumber: millisecond timestamps, tx hashes, the commit certificate's signer indexes. */
const blockCache = new Map();
async function fiscoBlock(n) {
  if (blockCache.has(n)) return blockCache.get(n);
  const b = await rpc("getBlockByNumber", [GROUP, "", n, false, true]);
  if (b) {
    blockCache.set(n, b);
    if (blockCache.size > CACHE_MAX) blockCache.delete(blockCache.keys().next().value);
  }
  return b;
}
async function recentBlocks(head, count) {
  const from = Math.max(0, head - count + 1);
  const numbers = [];
  for (let n = head; n >= from; n--) numbers.push(n);
  return (await Promise.all(numbers.map(fiscoBlock))).filter(Boolean);
}

// ------------------------------------------------------------------ DOM helpers

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") el.className = v;
    else el.setAttribute(k, String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}
const svgNs = "http://www.w3.org/2000/svg";
function s(tag, attrs = {}, text) {
  const el = document.createElementNS(svgNs, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
}
const main = () => document.getElementById("main");
function render(...nodes) {
  main().replaceChildren(...nodes);
}
const short = (x, n = 10) => (x && x.length > 2 * n + 2 ? `${x.slice(0, n + 2)}…${x.slice(-n)}` : x);
const link = (href, text, attrs = {}) => h("a", { href, ...attrs }, text);
const card = (label, value, id) =>
  h(
    "div",
    { class: "card" },
    h("div", { class: "label" }, label),
    h("div", { class: "value", "data-testid": id }, value),
  );
function kv(pairs) {
  return h(
    "dl",
    { class: "kv" },
    pairs.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v ?? "—")]),
  );
}
function table(headers, rows, attrs = {}) {
  return h(
    "table",
    attrs,
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        headers.map((x) => h("th", {}, x)),
      ),
    ),
    h("tbody", {}, rows),
  );
}
function ago(ms) {
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  return `${Math.floor(s / 3600)}h ago`;
}

/** A small bar chart as inline SVG: values oldest → newest, labelled with max and unit. */
function barChart(title, values, unit, testid) {
  const w = 600;
  const ht = 140;
  const pad = 22;
  const max = Math.max(...values, 0) || 1;
  const bw = values.length > 0 ? (w - pad) / values.length : 0;
  const svg = s("svg", {
    viewBox: `0 0 ${w} ${ht}`,
    preserveAspectRatio: "none",
    role: "img",
    "aria-label": title,
  });
  svg.append(s("line", { x1: pad, y1: ht - 14, x2: w, y2: ht - 14, class: "axis" }));
  values.forEach((v, i) => {
    const bh = ((ht - 24) * v) / max;
    const bar = s("rect", {
      x: pad + i * bw + 1,
      y: ht - 14 - bh,
      width: Math.max(1, bw - 2),
      height: bh,
      class: "bar",
    });
    bar.append(s("title", {}, `${fmt(v)} ${unit}`));
    svg.append(bar);
  });
  svg.append(s("text", { x: 0, y: 10 }, `${fmt(max)} ${unit}`));
  svg.append(s("text", { x: 0, y: ht - 2 }, `last ${values.length} blocks`));
  return h("div", { class: "card chart", "data-testid": testid }, h("div", { class: "label" }, title), svg);
}
const fmt = (v) => (v >= 100 ? Math.round(v).toString() : v.toFixed(v >= 10 ? 1 : 2));

// ------------------------------------------------------------------ live updates

const live = { height: null, ws: null, backoffMs: 500, listeners: new Set() };
function connectLive() {
  const el = document.getElementById("live");
  let ws;
  try {
    const query = rpcToken ? `?token=${encodeURIComponent(rpcToken)}` : "";
    ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/${query}`);
  } catch {
    return;
  }
  live.ws = ws;
  ws.onopen = () => {
    live.backoffMs = 500;
    ws.send(JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_subscribe", params: ["newHeads"] }));
    el.textContent = "live";
    el.className = "live on";
  };
  ws.onmessage = (ev) => {
    const msg = JSON.parse(ev.data);
    if (msg.method !== "eth_subscription") return;
    const head = msg.params?.result;
    if (!head?.number) return;
    live.height = Math.max(live.height ?? 0, num(head.number));
    setHeight(live.height);
    for (const fn of live.listeners) fn(live.height);
  };
  ws.onclose = () => {
    el.textContent = "offline";
    el.className = "live off";
    setTimeout(connectLive, live.backoffMs);
    live.backoffMs = Math.min(10_000, live.backoffMs * 2);
  };
}
function setHeight(n) {
  for (const el of document.querySelectorAll("[data-testid=height]")) el.textContent = String(n);
}

// ------------------------------------------------------------------ pages

let pageToken = 0;
const current = () => pageToken;

async function overview(token) {
  const [height, view, peers, pool, status] = await Promise.all([
    rpc("eth_blockNumber").then(num),
    rpc("getPbftView", [GROUP, ""]),
    rpc("net_peerCount").then(num),
    rpc("getPendingTxSize", [GROUP, ""]),
    rpc("getConsensusStatus", [GROUP, ""]),
  ]);
  live.height = Math.max(live.height ?? 0, height);
  const blocks = await recentBlocks(live.height, CHART_BLOCKS + 1);
  if (token !== current()) return;
  const chron = [...blocks].reverse();
  const intervals = [];
  const tps = [];
  for (let i = 1; i < chron.length; i++) {
    const dt = Math.max(1, chron[i].timestamp - chron[i - 1].timestamp) / 1000;
    intervals.push(dt);
    tps.push(chron[i].transactions.length / dt);
  }
  const head = blocks[0];
  render(
    h("h2", {}, "Overview"),
    h(
      "div",
      { class: "cards" },
      card("Height", live.height, "height"),
      card("View", view, "view"),
      card("Peers", peers, "peers"),
      card("Pool", pool, "pool"),
      card("Sealers", status.consensusNodesNum, "sealers"),
      card("Last block", head ? ago(head.timestamp) : "—", "last-block-age"),
    ),
    h(
      "div",
      { class: "charts" },
      barChart("Block time (s)", intervals, "s", "chart-block-time"),
      barChart("Transactions per second", tps, "tx/s", "chart-tps"),
    ),
    h("h3", {}, "Latest blocks"),
    blocksTable(blocks.slice(0, 10)),
  );
}

function blocksTable(blocks) {
  return table(
    ["Number", "Hash", "Txs", "Time", "View", "Signers"],
    blocks.map((b) =>
      h(
        "tr",
        {},
        h("td", {}, link(`#/block/${b.number}`, b.number)),
        h("td", { class: "mono" }, link(`#/block/${b.hash}`, short(b.hash))),
        h("td", {}, b.transactions.length),
        h("td", {}, new Date(b.timestamp).toLocaleTimeString()),
        h("td", {}, b.view),
        h("td", {}, b.signatureList.length),
      ),
    ),
    { "data-testid": "blocks-table" },
  );
}

async function blocksPage(token) {
  const height = num(await rpc("eth_blockNumber"));
  const blocks = await recentBlocks(height, 25);
  if (token !== current()) return;
  render(
    h("h2", {}, `Blocks (height `, h("span", { "data-testid": "height" }, height), ")"),
    blocksTable(blocks),
  );
}

async function validatorsPage(token) {
  const [sealers, observers, self, peers, status, height] = await Promise.all([
    rpc("getSealerList", [GROUP, ""]),
    rpc("getObserverList", [GROUP, ""]),
    rpc("getNodeInfo", [GROUP, ""]),
    rpc("getPeers", [GROUP]),
    rpc("getConsensusStatus", [GROUP, ""]),
    rpc("eth_blockNumber").then(num),
  ]);
  // Last certificate each sealer signed, from the commit certificates of the recent blocks (newest first).
  const lastSigned = new Map();
  for (const b of await recentBlocks(height, 50)) {
    for (const sig of b.signatureList) {
      const id = b.sealerList[sig.index];
      if (id && !lastSigned.has(id)) lastSigned.set(id, b.number);
    }
  }
  if (token !== current()) return;
  const online = new Set([self.nodeID, ...peers.peers.map((p) => p.p2pNodeID)]);
  const row = (id, weight, role) =>
    h(
      "tr",
      { "data-role": role },
      h(
        "td",
        { class: "mono", title: id },
        short(id, 12),
        id === self.nodeID ? h("span", { class: "badge" }, "this node") : null,
      ),
      h("td", {}, weight ?? "—"),
      h("td", {}, role, id === status.leader ? h("span", { class: "badge leader" }, "leader") : null),
      h(
        "td",
        {},
        lastSigned.has(id)
          ? link(`#/block/${lastSigned.get(id)}`, `block ${lastSigned.get(id)}`)
          : role === "sealer"
            ? "not in the last 50 blocks"
            : "—",
      ),
      h(
        "td",
        {},
        online.has(id)
          ? h("span", { class: "online" }, "online")
          : h("span", { class: "offline" }, "offline"),
      ),
    );
  render(
    h("h2", {}, "Validators"),
    h(
      "p",
      { class: "muted" },
      `${sealers.length} sealers, ${observers.length} observers; view ${status.view}; "online" = connected to this node.`,
    ),
    table(
      ["Node ID", "Weight", "Role", "Last certificate signed", "Online"],
      [
        ...sealers.map((x) => row(x.nodeID, x.weight, "sealer")),
        ...observers.map((id) => row(id, null, "observer")),
      ],
      { "data-testid": "validators-table" },
    ),
  );
}

async function blockPage(token, ref) {
  const full = /^0x[0-9a-fA-F]{64}$/.test(ref)
    ? await rpc("eth_getBlockByHash", [ref, true])
    : await rpc("eth_getBlockByNumber", [hex(Number(ref)), true]);
  if (token !== current()) return;
  if (!full) return render(h("h2", {}, "Block"), h("p", { class: "error" }, `No block ${ref}`));
  const n = num(full.number);
  render(
    h("h2", { "data-testid": "block-title" }, `Block ${n}`),
    kv([
      ["Hash", full.hash],
      ["Parent", n > 0 ? link(`#/block/${n - 1}`, full.parentHash) : full.parentHash],
      ["Time", new Date(num(full.timestamp) * 1000).toISOString()],
      ["Proposer (miner)", full.miner],
      ["Transactions", full.transactions.length],
      ["Gas used", num(full.gasUsed)],
      ["State root", full.stateRoot],
    ]),
    h("h3", {}, "Transactions"),
    table(
      ["Hash", "From", "To", "Value (wei)"],
      full.transactions.map((tx) =>
        h(
          "tr",
          {},
          h("td", { class: "mono" }, link(`#/tx/${tx.hash}`, short(tx.hash))),
          h("td", { class: "mono" }, link(`#/address/${tx.from}`, short(tx.from, 8))),
          h(
            "td",
            { class: "mono" },
            tx.to ? link(`#/address/${tx.to}`, short(tx.to, 8)) : "contract creation",
          ),
          h("td", {}, BigInt(tx.value).toString()),
        ),
      ),
    ),
  );
}

async function txPage(token, hash) {
  const [tx, receipt] = await Promise.all([
    rpc("eth_getTransactionByHash", [hash]),
    rpc("eth_getTransactionReceipt", [hash]),
  ]);
  if (token !== current()) return;
  if (!tx) return render(h("h2", {}, "Transaction"), h("p", { class: "error" }, `No transaction ${hash}`));
  const ok = receipt && receipt.status === "0x1";
  render(
    h("h2", { "data-testid": "tx-title" }, "Transaction"),
    kv([
      ["Hash", h("span", { "data-testid": "tx-hash" }, tx.hash)],
      [
        "Status",
        receipt
          ? h("span", { class: ok ? "ok" : "fail", "data-testid": "tx-status" }, ok ? "success" : "failed")
          : "pending",
      ],
      ["Block", tx.blockNumber ? link(`#/block/${num(tx.blockNumber)}`, num(tx.blockNumber)) : "pending"],
      ["From", link(`#/address/${tx.from}`, tx.from)],
      ["To", tx.to ? link(`#/address/${tx.to}`, tx.to) : "contract creation"],
      [
        "Contract created",
        receipt?.contractAddress
          ? link(`#/address/${receipt.contractAddress}`, receipt.contractAddress)
          : null,
      ],
      ["Value (wei)", BigInt(tx.value).toString()],
      ["Nonce", num(tx.nonce)],
      ["Gas limit / used", `${num(tx.gas)} / ${receipt ? num(receipt.gasUsed) : "—"}`],
      ["Type", num(tx.type ?? "0x0")],
      ["Input", tx.input.length > 2 ? tx.input : "(none)"],
    ]),
    h("h3", {}, `Logs (${receipt ? receipt.logs.length : 0})`),
    ...(receipt?.logs ?? []).map((l) =>
      h(
        "div",
        { class: "log" },
        kv([
          ["Address", link(`#/address/${l.address}`, l.address)],
          [
            "Topics",
            h(
              "div",
              {},
              l.topics.map((t) => h("div", {}, t)),
            ),
          ],
          ["Data", l.data],
        ]),
      ),
    ),
  );
}

async function addressPage(token, address) {
  const [balance, nonce, code, height] = await Promise.all([
    rpc("eth_getBalance", [address, "latest"]),
    rpc("eth_getTransactionCount", [address, "latest"]),
    rpc("eth_getCode", [address, "latest"]),
    rpc("eth_blockNumber").then(num),
  ]);
  // Recent transactions from or to the address: the last ADDRESS_SCAN_BLOCKS blocks with transactions.
  const found = [];
  const a = address.toLowerCase();
  for (const b of await recentBlocks(height, ADDRESS_SCAN_BLOCKS)) {
    if (b.transactions.length === 0) continue;
    const full = await rpc("eth_getBlockByNumber", [hex(b.number), true]);
    for (const tx of full?.transactions ?? []) {
      if (tx.from?.toLowerCase() === a || tx.to?.toLowerCase() === a) found.push(tx);
    }
    if (found.length >= 50 || token !== current()) break;
  }
  if (token !== current()) return;
  render(
    h("h2", {}, "Address"),
    kv([
      ["Address", address],
      ["Balance (wei)", BigInt(balance).toString()],
      ["Nonce", num(nonce)],
      ["Kind", code && code !== "0x" ? `contract (${(code.length - 2) / 2} bytes of code)` : "account"],
    ]),
    h("h3", {}, `Transactions in the last ${ADDRESS_SCAN_BLOCKS} blocks (${found.length})`),
    table(
      ["Hash", "Block", "From", "To"],
      found.map((tx) =>
        h(
          "tr",
          {},
          h("td", { class: "mono" }, link(`#/tx/${tx.hash}`, short(tx.hash))),
          h("td", {}, link(`#/block/${num(tx.blockNumber)}`, num(tx.blockNumber))),
          h("td", { class: "mono" }, short(tx.from, 8)),
          h("td", { class: "mono" }, tx.to ? short(tx.to, 8) : "contract creation"),
        ),
      ),
    ),
  );
}

/** Proposals through a FISCO-style method when the node has committee governance; a notice otherwise. */
async function governancePage(token) {
  let proposals;
  try {
    proposals = await rpc("getProposalList", [GROUP, ""]);
  } catch (err) {
    if (token !== current()) return;
    if (err instanceof RpcError && err.code === -32601) {
      return render(
        h("h2", {}, "Governance"),
        h(
          "p",
          { class: "muted", "data-testid": "governance-unavailable" },
          "governance not available on this node",
        ),
      );
    }
    throw err;
  }
  if (token !== current()) return;
  // getProposalList answers { total, proposals: [{ id, type, change, status, proposer, createdAt, expiresAt,
  // agreeVoters, againstVoters }] }; vote lists are shown as counts, any other field as text.
  const list = (Array.isArray(proposals) ? proposals : (proposals?.proposals ?? [])).map((p) => {
    const { agreeVoters, againstVoters, ...rest } = p;
    return Array.isArray(agreeVoters) || Array.isArray(againstVoters)
      ? { ...rest, votes: `${agreeVoters?.length ?? 0} for / ${againstVoters?.length ?? 0} against` }
      : p;
  });
  const keys = [...new Set(list.flatMap((p) => Object.keys(p)))].slice(0, 9);
  render(
    h("h2", {}, "Governance proposals"),
    list.length === 0
      ? h("p", { class: "muted" }, "No proposals.")
      : table(
          keys,
          list.map((p) =>
            h(
              "tr",
              {},
              keys.map((k) =>
                h(
                  "td",
                  { class: "mono" },
                  typeof p[k] === "object" ? JSON.stringify(p[k]) : String(p[k] ?? ""),
                ),
              ),
            ),
          ),
          { "data-testid": "proposals-table" },
        ),
  );
}

// ------------------------------------------------------------------ routing and search

const routes = [
  [/^#?\/?$/, "overview", (t) => overview(t)],
  [/^#\/validators$/, "validators", (t) => validatorsPage(t)],
  [/^#\/blocks$/, "blocks", (t) => blocksPage(t)],
  [/^#\/block\/(\d+|0x[0-9a-fA-F]{64})$/, "blocks", (t, m) => blockPage(t, m[1])],
  [/^#\/tx\/(0x[0-9a-fA-F]{64})$/, "blocks", (t, m) => txPage(t, m[1])],
  [/^#\/address\/(0x[0-9a-fA-F]{40})$/, "blocks", (t, m) => addressPage(t, m[1])],
  [/^#\/governance$/, "governance", (t) => governancePage(t)],
];

async function route() {
  const token = ++pageToken;
  const hash = location.hash || "#/";
  for (const [re, nav, fn] of routes) {
    const m = hash.match(re);
    if (!m) continue;
    for (const a of document.querySelectorAll("nav a")) a.classList.toggle("active", a.dataset.nav === nav);
    try {
      await fn(token, m);
    } catch (err) {
      if (token === current()) render(h("p", { class: "error" }, `Error: ${err.message}`));
    }
    return;
  }
  render(h("p", { class: "error" }, `Unknown page ${hash}`));
}

async function search(q) {
  q = q.trim();
  if (/^\d+$/.test(q)) return `#/block/${q}`;
  if (/^0x[0-9a-fA-F]{40}$/.test(q)) return `#/address/${q}`;
  if (/^0x[0-9a-fA-F]{64}$/.test(q)) {
    if (await rpc("eth_getTransactionByHash", [q])) return `#/tx/${q}`;
    return `#/block/${q}`;
  }
  return null;
}

document.getElementById("search").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const input = document.getElementById("search-input");
  const target = await search(input.value).catch(() => null);
  if (target) location.hash = target;
  else
    render(
      h(
        "p",
        { class: "error" },
        "Enter a block number, a block or transaction hash (0x + 64 hex) or an address (0x + 40 hex).",
      ),
    );
});
window.addEventListener("hashchange", route);

// The overview and the blocks list follow new heads (at most one refresh in flight).
let refreshing = false;
live.listeners.add(async () => {
  const hash = location.hash || "#/";
  if (refreshing || !(hash === "#/" || hash === "#/blocks" || hash === "")) return;
  refreshing = true;
  try {
    await (hash === "#/blocks" ? blocksPage(current()) : overview(current()));
  } catch {
    // the next head retries
  } finally {
    refreshing = false;
  }
});

rpc("getNodeInfo", [GROUP, ""])
  .then((info) => {
    document.getElementById("footer").textContent =
      `node ${short(info.nodeID, 8)} · ${info.type} · chain ${info.chainID} · ${info.groupID} · ${info.version}`;
  })
  .catch(() => {});
connectLive();
route();
