// "Did you mean …?" for misspelt instructions, flags and mount options.
// Optimal-string-alignment distance, so that a swapped pair of letters
// (FORM → FROM) costs one edit like a typo does.

export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[][] = Array.from({ length: rows }, (_, i) => Array.from({ length: cols }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      const row = d[i] as number[];
      const prev = d[i - 1] as number[];
      let best = Math.min((prev[j] as number) + 1, (row[j - 1] as number) + 1, (prev[j - 1] as number) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        best = Math.min(best, ((d[i - 2] as number[])[j - 2] as number) + 1);
      }
      row[j] = best;
    }
  }
  return (d[rows - 1] as number[])[cols - 1] as number;
}

/** The closest option if it is close enough to be a likely typo, else null. Case-insensitive. */
export function closest(input: string, options: readonly string[]): string | null {
  const needle = input.toLowerCase();
  // One edit for short words, two for longer ones; never more than the word itself.
  const limit = needle.length <= 3 ? 1 : 2;
  let best: string | null = null;
  let bestDistance = Infinity;
  for (const option of options) {
    const dist = editDistance(needle, option.toLowerCase());
    if (dist < bestDistance) {
      best = option;
      bestDistance = dist;
    }
  }
  return bestDistance > 0 && bestDistance <= limit && bestDistance < needle.length ? best : null;
}

/** ` (did you mean X?)` or nothing. */
export function didYouMean(input: string, options: readonly string[], format: (s: string) => string = (s) => s): string {
  const match = closest(input, options);
  return match === null ? '' : ` (did you mean ${format(match)}?)`;
}
