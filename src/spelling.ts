/**
 * The known name closest to what the user typed, for "did you mean": case and `_`/`-` aside
 * (`--EXP_UNIT_MS` finds `--exp-unit-ms`), within a few typos, or the only name it begins.
 */
export function closestName(typed: string, known: readonly string[]): string | undefined {
  const normal = typed.toLowerCase().replaceAll('_', '-')
  const extending = known.filter((name) => name.startsWith(normal) && normal.length >= 4)
  if (extending.length === 1) return extending[0]
  let best: string | undefined
  let bestDistance = Number.POSITIVE_INFINITY
  for (const name of known) {
    const distance = editDistance(normal, name)
    if (distance < bestDistance) {
      best = name
      bestDistance = distance
    }
  }
  // Two edits, or one in four characters for long names: further than that is another word.
  return bestDistance <= Math.max(2, Math.floor(normal.length / 4)) ? best : undefined
}

/** Levenshtein distance: insertions, deletions and substitutions. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const current = [i]
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1)
      current.push(Math.min(substitution, (previous[j] as number) + 1, (current[j - 1] as number) + 1))
    }
    previous = current
  }
  return previous[b.length] as number
}
