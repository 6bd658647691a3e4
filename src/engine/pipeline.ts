/**
 * The stages one direction of a connection runs through, defined once for every consumer (the engine's verdicts, the
 * interpreter of PolicyEndpoint objects, the nftables compiler): the shape kube-network-policies uses, evaluators
 * answering Accept / Deny / Next.
 *
 *   Admin         admin-tier policies by priority, rules in order: the first match decides (Pass → Next)
 *   NetworkPolicy only when a NetworkPolicy isolates the pod in this direction: allowed by some rule → Accept, else Deny
 *   Baseline      baseline-tier policies, as Admin (Pass → Next)
 *   Default       Accept (strict mode, for a pod no policy selects yet: Deny)
 */

export const STAGES = ['Admin', 'NetworkPolicy', 'Baseline', 'Default'] as const;
export type Stage = (typeof STAGES)[number];

/** What one stage says about a packet. */
export type StageAnswer<D> = { readonly answer: 'Accept' | 'Deny'; readonly detail?: D } | { readonly answer: 'Next'; readonly detail?: D };

/** One evaluator per stage; Default must decide. */
export type StageEvaluators<D> = { readonly [S in Stage]: () => StageAnswer<D> };

/** The outcome of the pipeline: the stage that decided, its answer, and the details of every stage that answered Next. */
export interface PipelineResult<D> {
  readonly stage: Stage;
  readonly allowed: boolean;
  readonly detail?: D;
  readonly passed: readonly D[];
}

/**
 * Runs the stages in order until one accepts or denies.
 * @example runPipeline({ Admin: () => ({ answer: 'Next' }), NetworkPolicy: () => ({ answer: 'Deny' }), ... })
 */
export function runPipeline<D>(evaluators: StageEvaluators<D>): PipelineResult<D> {
  const passed: D[] = [];
  for (const stage of STAGES) {
    const a = evaluators[stage]();
    if (a.answer !== 'Next') return { stage, allowed: a.answer === 'Accept', ...(a.detail !== undefined ? { detail: a.detail } : {}), passed };
    if (a.detail !== undefined) passed.push(a.detail);
  }
  // Default always decides; reaching here means an evaluator broke that contract.
  throw new Error('the Default stage answered Next');
}

/** What one stage does with the ports still undecided: allows some, denies some, hands `rest` on. */
export interface PortStage<P> {
  readonly allowed: P;
  readonly rest: P;
}

/** Port-set algebra for {@link runPortPipeline}. */
export interface PortAlgebra<P> {
  readonly all: P;
  readonly none: P;
  union(a: P, b: P): P;
  empty(p: P): boolean;
}

/**
 * The same stages over sets of ports at once: each stage sees the ports no earlier stage decided, allows some of them
 * and hands the rest on; Default allows what reaches it. Returns every allowed port.
 */
export function runPortPipeline<P>(alg: PortAlgebra<P>, evaluators: { readonly [S in Exclude<Stage, 'Default'>]: (pool: P) => PortStage<P> } & { readonly Default: (pool: P) => P }): P {
  let pool = alg.all;
  let allowed = alg.none;
  for (const stage of STAGES) {
    if (stage === 'Default') return alg.union(allowed, evaluators.Default(pool));
    const r = evaluators[stage](pool);
    allowed = alg.union(allowed, r.allowed);
    pool = r.rest;
    if (alg.empty(pool)) return allowed;
  }
  return allowed;
}
