// The WWW-Authenticate header (RFC 7235 challenges), parsed on its own as
// containers/image does in wwwauthenticate.go.
//
// Owns: turning `Bearer realm="https://auth/token",service="reg",scope="a:b:pull,push"`
// into {scheme, params}. Registries send quoted strings with commas inside
// them (scope lists), sometimes several challenges in one header, and
// sometimes unquoted tokens; a split on ',' gets all three wrong.

export interface Challenge {
  /** Lower-cased scheme: `basic`, `bearer`. */
  scheme: string;
  /** Parameter names lower-cased; values unquoted and unescaped. */
  params: Record<string, string>;
}

const TOKEN_CHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/;

/** Parse every challenge in a header value. Malformed tails are dropped, never thrown on. */
export function parseWwwAuthenticate(header: string): Challenge[] {
  const out: Challenge[] = [];
  let i = 0;
  const n = header.length;
  const skipSpace = (): void => { while (i < n && (header[i] === ' ' || header[i] === '\t')) i++; };
  const readToken = (): string => {
    const start = i;
    while (i < n && TOKEN_CHAR.test(header[i] as string)) i++;
    return header.slice(start, i);
  };
  // Unquoted values should be tokens, but servers write URLs bare; take
  // everything up to the next separator rather than stopping at ':' or '/'.
  const readBare = (): string => {
    const start = i;
    while (i < n && header[i] !== ',' && header[i] !== ' ' && header[i] !== '\t') i++;
    return header.slice(start, i);
  };
  const readQuoted = (): string => {
    // Caller has seen the opening quote. Backslash escapes the next char.
    i++;
    let v = '';
    while (i < n && header[i] !== '"') {
      if (header[i] === '\\' && i + 1 < n) i++;
      v += header[i];
      i++;
    }
    i++; // closing quote (or end of input)
    return v;
  };

  let current: Challenge | undefined;
  while (i < n) {
    skipSpace();
    if (header[i] === ',') { i++; continue; }
    const token = readToken();
    if (token === '') { i++; continue; } // stray character: skip it
    skipSpace();
    if (header[i] === '=' && current) {
      // A parameter of the current challenge. `token68` forms (`Basic abc==`)
      // are not parameters; registries don't send them, so no special case.
      i++;
      skipSpace();
      const value = header[i] === '"' ? readQuoted() : readBare();
      current.params[token.toLowerCase()] = value;
      continue;
    }
    // A token not followed by '=' starts a new challenge.
    current = { scheme: token.toLowerCase(), params: {} };
    out.push(current);
  }
  return out;
}

/** The challenge we act on: bearer beats basic, since a registry offering both wants tokens. */
export function pickChallenge(challenges: readonly Challenge[]): Challenge | undefined {
  return challenges.find((c) => c.scheme === 'bearer') ?? challenges.find((c) => c.scheme === 'basic');
}
