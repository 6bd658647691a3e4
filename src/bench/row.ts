/** One line of the benchmark report. */
export interface BenchRow {
  readonly name: string;
  readonly value: number;
  readonly unit: string;
  /** The target, e.g. `≤ 500 ms`; `met` says whether the value meets it. */
  readonly target?: string;
  readonly met?: boolean;
}
