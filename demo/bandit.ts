import { ARTICLES, CONTEXTS } from './world.js'

/**
 * An epsilon-greedy bandit over a per-context-and-article model: the mean joined reward of each
 * (context, article), starting from a prior (so untried articles look worth a try). It explores
 * with probability epsilon, uniformly, and otherwise shows the article with the best mean; each
 * joined record banditjoin emits updates one mean.
 */
export class EpsilonGreedy {
  private readonly sums: number[][]
  private readonly counts: number[][]

  constructor(
    private readonly random: () => number,
    readonly epsilon = 0.1,
    private readonly prior = { mean: 0.5, weight: 1 },
  ) {
    this.sums = CONTEXTS.map(() => ARTICLES.map(() => 0))
    this.counts = CONTEXTS.map(() => ARTICLES.map(() => 0))
  }

  /** The estimated mean reward of article a for context x. */
  estimate(x: number, a: number): number {
    const sum = this.sums[x]?.[a] as number
    const count = this.counts[x]?.[a] as number
    return (sum + this.prior.mean * this.prior.weight) / (count + this.prior.weight)
  }

  /** The article the policy favours for x (ties: the first). */
  greedy(x: number): number {
    let best = 0
    for (let a = 1; a < ARTICLES.length; a++) if (this.estimate(x, a) > this.estimate(x, best)) best = a
    return best
  }

  /** The probability of each article for x. */
  probabilities(x: number): number[] {
    const greedy = this.greedy(x)
    const explore = this.epsilon / ARTICLES.length
    return ARTICLES.map((_, a) => (a === greedy ? 1 - this.epsilon + explore : explore))
  }

  /** Chooses an article for x: its index and the probability it had. */
  choose(x: number): { action: number; probabilities: number[] } {
    const probabilities = this.probabilities(x)
    let u = this.random()
    for (let a = 0; a < probabilities.length; a++) {
      u -= probabilities[a] as number
      if (u < 0) return { action: a, probabilities }
    }
    return { action: probabilities.length - 1, probabilities }
  }

  /** Learns from one joined record: article a was shown for x and earned `reward`. */
  learn(x: number, a: number, reward: number): void {
    const sums = this.sums[x] as number[]
    const counts = this.counts[x] as number[]
    sums[a] = (sums[a] as number) + reward
    counts[a] = (counts[a] as number) + 1
  }
}
