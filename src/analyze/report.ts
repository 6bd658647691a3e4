/**
 * Lint findings as text (one finding per location line, with its fix), JSON, and SARIF 2.1.0 for GitHub code scanning.
 */
import { relative, isAbsolute, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Finding, FindingSeverity, LintRule } from './findings.js';

export interface FindingCounts {
  readonly error: number;
  readonly warning: number;
  readonly note: number;
}

export function countFindings(findings: readonly Finding[]): FindingCounts {
  const count = (s: FindingSeverity) => findings.filter((f) => f.severity === s).length;
  return { error: count('error'), warning: count('warning'), note: count('note') };
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** `file:line:col: warning[rule-id]: Object: path: message` and an indented `fix:` line per finding, then a summary. */
export function renderText(findings: readonly Finding[]): string {
  const lines: string[] = [];
  for (const f of findings) {
    const where = f.pos ? `${f.pos.file}:${f.pos.line}:${f.pos.column}: ` : '';
    const what = f.object ? `${f.object}: ` : '';
    const path = f.path ? `${f.path}: ` : '';
    lines.push(`${where}${f.severity}[${f.ruleId}]: ${what}${path}${f.message}`);
    lines.push(`    fix: ${f.fix}`);
  }
  const c = countFindings(findings);
  lines.push(findings.length === 0 ? 'no findings' : `${plural(c.error, 'error')}, ${plural(c.warning, 'warning')}, ${plural(c.note, 'note')}`);
  return lines.join('\n');
}

export function renderJson(findings: readonly Finding[]): string {
  return JSON.stringify({ summary: countFindings(findings), findings }, null, 2);
}

/** SARIF's level for a severity (the same three words). */
const LEVEL: Record<FindingSeverity, 'error' | 'warning' | 'note'> = { error: 'error', warning: 'warning', note: 'note' };

/** A file path as SARIF wants it: relative to the working directory with forward slashes, or a file URI outside it. */
function artifactUri(file: string, cwd: string): string {
  const rel = isAbsolute(file) ? relative(cwd, file) : file;
  if (rel.startsWith('..') || isAbsolute(rel)) return pathToFileURL(isAbsolute(file) ? file : `${cwd}${sep}${file}`).href;
  return rel.split(sep).join('/');
}

export interface SarifLog {
  readonly version: '2.1.0';
  readonly $schema: string;
  readonly runs: readonly {
    readonly tool: { readonly driver: { readonly name: string; readonly version: string; readonly rules: readonly unknown[] } };
    readonly results: readonly unknown[];
  }[];
}

/**
 * SARIF 2.1.0 with one run: every rule that ran in `tool.driver.rules`, every finding a result with its location.
 * @param cwd the directory artifact URIs are relative to (the repository root in CI).
 */
export function toSarif(findings: readonly Finding[], rules: readonly LintRule[], version: string, cwd = process.cwd()): SarifLog {
  const index = new Map(rules.map((r, i) => [r.id, i]));
  return {
    version: '2.1.0',
    $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
    runs: [
      {
        tool: {
          driver: {
            name: 'palisade',
            version,
            rules: rules.map((r) => ({
              id: r.id,
              shortDescription: { text: r.summary },
              defaultConfiguration: { level: LEVEL[r.severity] },
              properties: { profile: r.profile },
            })),
          },
        },
        results: findings.map((f) => ({
          ruleId: f.ruleId,
          ...(index.has(f.ruleId) ? { ruleIndex: index.get(f.ruleId) } : {}),
          level: LEVEL[f.severity],
          message: { text: `${f.object ? `${f.object}: ` : ''}${f.path ? `${f.path}: ` : ''}${f.message}. Fix: ${f.fix}.` },
          ...(f.pos
            ? {
                locations: [
                  {
                    physicalLocation: {
                      artifactLocation: { uri: artifactUri(f.pos.file, cwd) },
                      region: { startLine: f.pos.line, startColumn: f.pos.column },
                    },
                  },
                ],
              }
            : {}),
        })),
      },
    ],
  };
}
