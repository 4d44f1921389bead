// --chown and --chmod: from flag text to numbers, with the errors users see.
//
// Names in --chown are looked up in the *target* stage's /etc/passwd and
// /etc/group (the image the files land in), read through a LayerView so a
// symlinked /etc is followed inside the root. A numeric user alone gives
// that id as the group too, as buildkit does; a user name alone gives the
// user's primary group.
import type { LayerView } from '../../image/layer-view.js';
import { resolveUserSpec } from '../../run/user.js';
import { type CopyStep, stepError } from './types.js';
import { TsbuildError } from '../../errors.js';

export interface Owner {
  uid: number;
  gid: number;
}

/** `--chmod=755` / `0644` → permission bits; null when not given. */
export function parseChmod(step: CopyStep): number | null {
  const text = step.instruction.chmod;
  if (text === null || text === '') return null;
  if (!/^[0-7]{3,4}$/.test(text)) {
    throw stepError(step, 'E_BAD_CHMOD', `invalid --chmod value "${text}": expected an octal mode such as 755 or 0644`);
  }
  return parseInt(text, 8);
}

const ID_MAX = 0xffffffff - 1;

/** `--chown=user[:group]` → numeric ids via the target image's files; null when not given. */
export function resolveChown(step: CopyStep, target: LayerView): Owner | null {
  const spec = step.instruction.chown;
  if (spec === null || spec === '') return null;
  const [user = '', group] = spec.split(':', 2) as [string, string | undefined];
  if (user === '' || group === '') {
    throw stepError(step, 'E_BAD_CHOWN', `invalid --chown value "${spec}": expected user[:group]`);
  }
  const numeric = (s: string): boolean => /^\d+$/.test(s);
  let owner: Owner;
  if (numeric(user) && (group === undefined || numeric(group))) {
    const uid = Number(user);
    owner = { uid, gid: group === undefined ? uid : Number(group) };
  } else {
    try {
      const r = resolveUserSpec(spec, target.readFile('/etc/passwd'), target.readFile('/etc/group'));
      owner = { uid: r.uid, gid: r.gid };
    } catch (err) {
      if (err instanceof TsbuildError) throw stepError(step, err.code, err.message, err);
      throw err;
    }
  }
  if (owner.uid > ID_MAX || owner.gid > ID_MAX) {
    throw stepError(step, 'E_BAD_CHOWN', `invalid --chown value "${spec}": id out of range`);
  }
  return owner;
}
