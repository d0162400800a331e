// The Fabric dashboard: reads the node's management API every 2 s and renders it as text and
// tables. Counters per second are the difference between two reads. Served by the node at /dashboard.
"use strict";

const refreshMs = 2000;
let previous = null; // { at, counters: Map(key -> value) }

async function get(path) {
  const response = await fetch(path, { headers: { Accept: "application/json" } });
  if (!response.ok) throw new Error(`${path}: ${response.status}`);
  return response.json();
}

async function tryGet(path) {
  try { return await get(path); } catch { return null; }
}

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c ?? "")));
  return node;
}

function table(headers, rows) {
  if (rows.length === 0) return el("div", { class: "muted" }, "none");
  return el("table", {},
    el("thead", {}, el("tr", {}, ...headers.map(h => el("th", {}, h)))),
    el("tbody", {}, ...rows.map(r => el("tr", {}, ...r.map(c => c instanceof Node ? el("td", {}, c) : el("td", {}, c))))));
}

function state(text) { return el("span", { class: String(text).toLowerCase() }, text); }

function percent(x) { return `${(100 * (x || 0)).toFixed(1)}%`; }

function fill(id, ...nodes) { document.getElementById(id).replaceChildren(...nodes); }

/** Frames per second of a counter since the previous read, or "…" on the first. */
function rate(counters, key, value) {
  counters.set(key, value);
  if (!previous || !previous.counters.has(key)) return "…";
  const seconds = (Date.now() - previous.at) / 1000;
  return seconds > 0 ? `${Math.max(0, (value - previous.counters.get(key)) / seconds).toFixed(1)}/s` : "…";
}

async function refresh() {
  const counters = new Map();
  const [members, intent, applied, gateways, hosts, hypervisors, changes] = await Promise.all([
    tryGet("/cluster/members"), tryGet("/intent"), tryGet("/intent/applied"), tryGet("/gateways"),
    tryGet("/hosts"), tryGet("/hypervisors"), tryGet("/changes"),
  ]);
  const doc = intent?.document || {};

  fill("summary", `node ${applied?.node ?? "?"} · intent version ${intent?.version ?? "?"} (runs ${applied?.version ?? "?"}) · ` +
    `${(applied?.elements || []).length} element(s) here · updated ${new Date().toLocaleTimeString()}`);

  if (members) {
    const unreachable = new Set((members.unreachable || []).map(u => u.node));
    fill("members", table(["member", "status", "roles", ""],
      members.members.map(m => [m.node, state(unreachable.has(m.node) ? "unreachable" : m.status), m.roles.join(", "),
        [m.node === members.leader ? "leader" : "", m.node === members.selfNode ? "this node" : ""].filter(x => x).join(", ")])));
  } else {
    fill("members", el("div", { class: "error" }, "the management API does not answer"));
  }

  const trunksOf = pe => (doc.trunks || []).filter(t => t.pe === pe.name).map(t => t.name).join(", ");
  fill("topology",
    table(["node", "roles", "address"], (doc.nodes || []).map(n => [n.name, (n.roles || []).join(", "), n.address || ""])),
    table(["PE", "node", "attachment circuits", "trunks"], (doc.pes || []).map(p => [p.name, p.node,
      (p.attachmentCircuits || []).map(a => `${a.name} (${a.port.kind}:${a.port.name}${a.vlan ? " vlan " + a.vlan : ""})`).join(", "), trunksOf(p)])),
    table(["gateway", "node", "tenants"], (doc.gateways || []).map(g => [g.name, g.node, (g.tenants || []).map(t => t.tenant).join(", ")])));

  // Trunks of this node: member state and share of frames (what a trunk is for).
  const trunkNames = (applied?.elements || []).filter(e => e.kind === "trunk").map(e => e.name);
  const trunks = (await Promise.all(trunkNames.map(n => tryGet(`/trunks/${encodeURIComponent(n)}`)))).filter(t => t);
  fill("trunks", ...trunks.map(t => el("div", {},
    el("div", {}, `trunk ${t.name} on ${t.pe} (circuit ${t.attachmentCircuit}): `, state(t.state), ` · ${t.active} active of ${t.members.length}, mode ${t.mode}`),
    table(["member", "state", "tx frames", "frames/s", "frame share", "byte share"], t.members.map(m => [m.pw, state(m.state), m.txFrames,
      rate(counters, `trunk/${t.name}/${m.pw}`, m.txFrames), percent(m.frameShare), percent(m.byteShare)])))));
  if (trunks.length === 0) fill("trunks", el("div", { class: "muted" }, "no trunk on this node"));

  const details = await Promise.all((gateways || []).map(g => tryGet(`/gateways/${encodeURIComponent(g.name)}`)));
  fill("gateways", ...(gateways || []).map((g, i) => el("div", {},
    el("div", {}, `gateway ${g.name} on ${g.node}: flow cache hit rate ${percent(g.cache.hitRate)} ` +
      `(${g.cache.hits} hits, ${g.cache.misses} misses, ${g.cache.active} entries, ${g.cache.evictions} evictions), ${g.dropped} dropped`),
    table(["port", "role", "tenant", "state", "rx", "rx/s", "tx", "tx/s", "drops"], (details[i]?.status?.ports || []).map(p => [p.name, p.role, p.tenant,
      state(p.state), p.rxFrames, rate(counters, `gw/${g.name}/${p.id}/rx`, p.rxFrames), p.txFrames, rate(counters, `gw/${g.name}/${p.id}/tx`, p.txFrames), p.drops])))));
  if (!gateways || gateways.length === 0) fill("gateways", el("div", { class: "muted" }, "no gateway on this node"));

  fill("hosts", table(["host", "MFE", "DCNs", "container ports", "up", "overlay"],
    (hosts?.hosts || []).map(h => [h.name, h.mfe, h.dcns, h.ports, h.portsUp, h.overlay || ""])),
    table(["container", "host", "tenant", "ip"], (doc.hosts || []).flatMap(h => (h.containers || []).map(c => [c.name, h.name, c.tenant, c.ip]))));

  fill("hypervisors", table(["hypervisor", "modem", "phase", "registration", "signal", "bearer", "address"],
    (hypervisors?.hypervisors || []).flatMap(h => h.modems.map(m => [h.name, m.name, state(m.phase), m.registration ?? "",
      m.signalDbm == null ? "" : `${m.signalDbm} dBm`, m.bearer ?? "", m.address ?? ""]))));

  const recent = (changes || []).slice(-8).reverse();
  const verdicts = await Promise.all(recent.map(c => tryGet(`/changes/${c.changeId}`)));
  fill("changes", table(["change", "status", "ghost verdict", "findings", "author", "proposed"],
    recent.map((c, i) => {
      const v = verdicts[i] || c;
      const g = v.ghost;
      const verdict = g ? `${g.verified ? "verified" : "rejected"}: ${g.probes} probes, ${g.checksPassed} checks passed, ${g.checksFailed} failed` : "";
      const findings = (v.findings || []).map(f => `[${f.check}] ${f.reason}`).join("\n");
      return [c.changeId, state(c.status), verdict, findings, c.author, c.proposedAt];
    })));

  previous = { at: Date.now(), counters };
}

async function loop() {
  try { await refresh(); } catch (e) { fill("summary", el("span", { class: "error" }, `refresh failed: ${e.message}`)); }
  setTimeout(loop, refreshMs);
}

loop();
