/**
 * `tsx test/mutate/survivors.ts <module>`: lists the surviving and uncovered mutants of the last run of a module
 * (from reports/mutation/<module>/mutation.json), one line each: file:line, mutator, replacement.
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";

interface Mutant {
  mutatorName: string;
  replacement?: string;
  status: string;
  location: { start: { line: number; column: number } };
}
interface Report {
  files: Record<string, { mutants: Mutant[] }>;
}

const { positionals } = parseArgs({ allowPositionals: true });
const name = positionals[0];
if (name === undefined) {
  console.error("usage: tsx test/mutate/survivors.ts <module>");
  process.exit(2);
}
const report = JSON.parse(readFileSync(`reports/mutation/${name}/mutation.json`, "utf8")) as Report;
for (const [file, { mutants }] of Object.entries(report.files)) {
  for (const m of mutants) {
    if (m.status !== "Survived" && m.status !== "NoCoverage") continue;
    const where = `${file}:${m.location.start.line}:${m.location.start.column}`;
    console.log(
      `${m.status}\t${where}\t${m.mutatorName}\t${(m.replacement ?? "").replace(/\s+/g, " ").slice(0, 80)}`,
    );
  }
}
