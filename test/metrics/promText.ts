/**
 * A small strict parser of the Prometheus text exposition format (version 0.0.4), for tests: it throws on any line
 * that is not a valid comment, HELP, TYPE or sample, on a sample of an undeclared family, on a bad label or value,
 * and on a duplicate series. Returns the families (from TYPE lines) and the samples.
 */
export interface PromSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}
export interface PromFamily {
  name: string;
  type: "counter" | "gauge" | "histogram" | "summary" | "untyped";
  help: string;
}
export interface PromText {
  families: Map<string, PromFamily>;
  samples: PromSample[];
  /** The value of one series (labels match exactly on the given keys), or undefined. */
  value(name: string, labels?: Record<string, string>): number | undefined;
  /** Sum over every series of a sample name whose labels include the given ones. */
  sum(name: string, labels?: Record<string, string>): number;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(["counter", "gauge", "histogram", "summary", "untyped"]);
const SUFFIXES: Record<string, string[]> = {
  histogram: ["_bucket", "_sum", "_count"],
  summary: ["_sum", "_count", ""],
};

export function parsePromText(text: string): PromText {
  const families = new Map<string, PromFamily>();
  const samples: PromSample[] = [];
  const seen = new Set<string>();
  const helps = new Map<string, string>();
  const lines = text.split("\n");
  if (lines[lines.length - 1] !== "") throw new Error("exposition must end with a newline");
  lines.pop();
  lines.forEach((line, i) => {
    const where = `line ${i + 1}: ${JSON.stringify(line.slice(0, 120))}`;
    if (line === "") return;
    if (line.startsWith("#")) {
      const m = line.match(/^# (HELP|TYPE) (\S+) ?(.*)$/);
      if (!m) {
        if (/^# (HELP|TYPE)\b/.test(line)) throw new Error(`malformed ${where}`);
        return; // a plain comment
      }
      const [, kind, name, rest] = m as unknown as [string, string, string, string];
      if (!NAME.test(name)) throw new Error(`bad metric name in ${where}`);
      if (kind === "HELP") helps.set(name, rest);
      else {
        if (!TYPES.has(rest)) throw new Error(`bad type in ${where}`);
        if (families.has(name)) throw new Error(`second TYPE for ${name} in ${where}`);
        families.set(name, { name, type: rest as PromFamily["type"], help: helps.get(name) ?? "" });
      }
      return;
    }
    const sample = parseSample(line, where);
    const family = familyOf(sample.name, families);
    if (!family) throw new Error(`sample of an undeclared family in ${where}`);
    if (family.type === "histogram" && sample.name.endsWith("_bucket") && sample.labels.le === undefined)
      throw new Error(`histogram bucket without le in ${where}`);
    const key = `${sample.name}${JSON.stringify(Object.entries(sample.labels).sort())}`;
    if (seen.has(key)) throw new Error(`duplicate series in ${where}`);
    seen.add(key);
    samples.push(sample);
  });
  const matches = (s: PromSample, labels: Record<string, string>) =>
    Object.entries(labels).every(([k, v]) => s.labels[k] === v);
  return {
    families,
    samples,
    value: (name, labels = {}) =>
      samples.find(
        (s) =>
          s.name === name &&
          matches(s, labels) &&
          Object.keys(s.labels).length === Object.keys(labels).length,
      )?.value,
    sum: (name, labels = {}) =>
      samples.filter((s) => s.name === name && matches(s, labels)).reduce((a, s) => a + s.value, 0),
  };
}

function familyOf(sampleName: string, families: Map<string, PromFamily>): PromFamily | undefined {
  const direct = families.get(sampleName);
  if (direct && direct.type !== "histogram") return direct;
  for (const f of families.values()) {
    for (const suffix of SUFFIXES[f.type] ?? []) {
      if (suffix !== "" && sampleName === f.name + suffix) return f;
    }
  }
  return undefined;
}

function parseSample(line: string, where: string): PromSample {
  let i = 0;
  while (i < line.length && /[a-zA-Z0-9_:]/.test(line[i]!)) i++;
  const name = line.slice(0, i);
  if (!NAME.test(name)) throw new Error(`bad sample name in ${where}`);
  const labels: Record<string, string> = {};
  if (line[i] === "{") {
    i++;
    while (line[i] !== "}") {
      const start = i;
      while (i < line.length && /[a-zA-Z0-9_]/.test(line[i]!)) i++;
      const label = line.slice(start, i);
      if (!LABEL.test(label)) throw new Error(`bad label name in ${where}`);
      if (line[i] !== "=" || line[i + 1] !== '"') throw new Error(`expected ="…" after ${label} in ${where}`);
      i += 2;
      let value = "";
      for (;;) {
        const c = line[i];
        if (c === undefined) throw new Error(`unterminated label value in ${where}`);
        if (c === '"') break;
        if (c === "\\") {
          const e = line[i + 1];
          if (e === "n") value += "\n";
          else if (e === "\\" || e === '"') value += e;
          else throw new Error(`bad escape in ${where}`);
          i += 2;
          continue;
        }
        value += c;
        i++;
      }
      i++;
      if (label in labels) throw new Error(`label ${label} twice in ${where}`);
      labels[label] = value;
      if (line[i] === ",") i++;
      else if (line[i] !== "}") throw new Error(`expected , or } in ${where}`);
    }
    i++;
  }
  if (line[i] !== " ") throw new Error(`expected a space before the value in ${where}`);
  const parts = line.slice(i + 1).split(" ");
  if (parts.length > 2) throw new Error(`trailing fields in ${where}`);
  const value = parseValue(parts[0]!, where);
  if (parts[1] !== undefined && !/^-?\d+$/.test(parts[1])) throw new Error(`bad timestamp in ${where}`);
  return { name, labels, value };
}

/** Values as Prometheus reads them (Go's ParseFloat: NaN and Inf in any case; prom-client writes "Nan"). */
function parseValue(text: string, where: string): number {
  const lower = text.toLowerCase();
  if (lower === "+inf" || lower === "inf") return Number.POSITIVE_INFINITY;
  if (lower === "-inf") return Number.NEGATIVE_INFINITY;
  if (lower === "nan") return Number.NaN;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) throw new Error(`bad value in ${where}`);
  return Number(text);
}

/** Metric names a PromQL expression refers to (identifiers of our families, or of their histogram series). */
export function metricNamesInPromQL(expr: string): string[] {
  const withoutStrings = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""');
  const names = withoutStrings.match(/\b(?:ethereum|consort|process|nodejs)_[a-zA-Z0-9_:]*/g) ?? [];
  return [...new Set(names)];
}

/** True when the exposition declares `name` as a family or as a histogram's _bucket/_sum/_count series. */
export function hasMetric(parsed: PromText, name: string): boolean {
  return parsed.families.has(name) || familyOf(name, parsed.families) !== undefined;
}
