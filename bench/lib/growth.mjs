// How a cost grows with its input, for bench/scaling.mjs: the factor between
// a large and a small input, and the exponent log(factor)/log(input ratio)
// (0: flat, 1: linear). "Linear or better" (issue 12's bar) is a factor of
// at most the input ratio, which is also the target in the ratio lines.

/** A 25% rise is taken as noise rather than growth (the bar bench/depth.mjs uses). */
export const FLAT = 1.25;

/** {factor, exponent, verdict, linearOrBetter} of a cost going from `small` to `big` as the input goes from nSmall to nBig. */
export function growthOf(small, big, nSmall, nBig) {
  const factor = big / small;
  const inputRatio = nBig / nSmall;
  const exponent = Math.log(Math.max(factor, 1e-9)) / Math.log(inputRatio);
  let verdict;
  if (factor <= FLAT) verdict = 'flat';
  else if (exponent < 0.9) verdict = 'sublinear';
  else if (factor <= inputRatio) verdict = 'linear';
  else verdict = 'SUPERLINEAR';
  return { factor, exponent, verdict, linearOrBetter: factor <= inputRatio };
}
